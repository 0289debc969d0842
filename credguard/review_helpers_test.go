package credguard

import (
	"encoding/pem"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssooidc"
)

func pemEncode(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func ssooidcFromConfig(cfg aws.Config) *ssooidc.Client { return ssooidc.NewFromConfig(cfg) }

func createTokenInput(id, secret, refresh string) *ssooidc.CreateTokenInput {
	return &ssooidc.CreateTokenInput{ClientId: aws.String(id), ClientSecret: aws.String(secret),
		RefreshToken: aws.String(refresh), GrantType: aws.String("refresh_token")}
}
