package rig

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// echoedHeaders are request headers gofakes3 stores as object metadata and
// returns on GET/HEAD, which S3 never does. X-Amz-Security-Token would hand
// the writer's session token to every reader (and to any debug log).
func echoedHeaders() []string {
	return []string{
		"X-Amz-Security-Token", "X-Amz-Date", "X-Amz-Content-Sha256",
		"X-Amz-Sdk-Checksum-Algorithm", "X-Amz-Decoded-Content-Length", "X-Amz-Trailer",
		"Amz-Sdk-Invocation-Id", "Amz-Sdk-Request", "Authorization",
	}
}

// S3's full-object checksum headers.
const (
	hdrCRC32  = "X-Amz-Checksum-Crc32"
	hdrCRC32C = "X-Amz-Checksum-Crc32c"
	hdrSHA1   = "X-Amz-Checksum-Sha1"
	hdrSHA256 = "X-Amz-Checksum-Sha256"
)

// checksumHash returns the hash behind a checksum header.
func checksumHash(header string) hash.Hash {
	switch header {
	case hdrCRC32:
		return crc32.NewIEEE()
	case hdrCRC32C:
		return crc32.New(crc32.MakeTable(crc32.Castagnoli))
	case hdrSHA1:
		return sha1.New()
	default:
		return sha256.New()
	}
}

// maxChecksumFix bounds how much of a body the proxy buffers to correct a
// checksum; terraform states and lock records are far smaller.
const maxChecksumFix = 16 << 20

// fixS3Response makes a forwarded gofakes3 response look like S3's: echoed
// request headers are dropped, and a full-object checksum header is
// recomputed from the body (S3 validates checksums on upload, so what it
// serves always matches; gofakes3 can keep a wrong one, e.g. for aws-chunked
// uploads).
func fixS3Response(resp *http.Response) error {
	for _, h := range echoedHeaders() {
		resp.Header.Del(h)
	}
	if resp.Request == nil || resp.Request.Method != http.MethodGet || resp.StatusCode != http.StatusOK {
		return nil
	}
	var present []string
	for _, h := range []string{hdrCRC32, hdrCRC32C, hdrSHA1, hdrSHA256} {
		if v := resp.Header.Get(h); v != "" && !strings.Contains(v, "-") {
			present = append(present, h)
		}
	}
	if len(present) == 0 || resp.ContentLength < 0 || resp.ContentLength > maxChecksumFix {
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxChecksumFix+1))
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("read body to check its checksum: %w", err)
	}
	for _, h := range present {
		sum := checksumHash(h)
		sum.Write(body)
		resp.Header.Set(h, base64.StdEncoding.EncodeToString(sum.Sum(nil)))
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return nil
}

// crc32Base64 is the value S3 reports for a CRC32 checksum (tests use it).
func crc32Base64(b []byte) string {
	var out [4]byte
	binary.BigEndian.PutUint32(out[:], crc32.ChecksumIEEE(b))
	return base64.StdEncoding.EncodeToString(out[:])
}
