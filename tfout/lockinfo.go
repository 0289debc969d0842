package tfout

import "strings"

// LockInfo is terraform's lock record (statemgr.LockInfo); the same JSON is
// stored in the DynamoDB item's Info attribute and in the .tflock object.
type LockInfo struct {
	ID        string `json:"ID"`
	Operation string `json:"Operation"`
	Info      string `json:"Info"`
	Who       string `json:"Who"`
	Version   string `json:"Version"`
	Created   string `json:"Created"`
	Path      string `json:"Path"`
}

// parseLockInfo reads the "Lock Info:" block terraform prints when it cannot
// acquire a lock. The block's lines are indented, which terraform's wrapper
// leaves alone, so it is read line by line.
func parseLockInfo(text []byte) *LockInfo {
	pt := compiledPatterns()
	var info *LockInfo
	for _, l := range rawLines(text) {
		if pt.lockInfoHeader.MatchString(l) {
			info = &LockInfo{}
			continue
		}
		if info == nil {
			continue
		}
		m := pt.lockInfoField.FindStringSubmatch(l)
		if m == nil {
			if strings.TrimSpace(l) == "" && info.ID != "" {
				break
			}
			continue
		}
		switch m[1] {
		case "ID":
			info.ID = m[2]
		case "Path":
			info.Path = m[2]
		case "Operation":
			info.Operation = m[2]
		case "Who":
			info.Who = m[2]
		case "Version":
			info.Version = m[2]
		case "Created":
			info.Created = m[2]
		case "Info":
			info.Info = m[2]
		}
	}
	if info == nil || info.ID == "" {
		return nil
	}
	return info
}
