package cluster

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Credentials are a MySQL account.
type Credentials struct {
	User, Password string
}

// validUser accepts the account names the operator allows (and Doris):
// letters, digits, '_', '-', '.'; not "admin" (the operator refuses it).
func validUser(u string) error {
	if u == "" || len(u) > 64 || strings.EqualFold(u, "admin") {
		return fmt.Errorf("invalid admin user name %q", u)
	}
	for _, r := range u {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return fmt.Errorf("invalid admin user name %q", u)
		}
	}
	return nil
}

// ValidateUser is the check of an admin account name, for USER and the
// basic-auth secret's username alike: letters, digits, '_', '-', '.', at
// most 64, not "admin". Its error quotes the name, never a password.
func ValidateUser(u string) error { return validUser(u) }

// quote renders s as a single-quoted SQL string literal.
func quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// BasicAuthDir is where the operator mounts spec.authSecret (apache/doris-operator
// pkg/common/utils/resource/pod.go, basic_auth volume).
const BasicAuthDir = "/etc/basic_auth"

// AdminCredentials returns the account the operator configures: USER and
// PASSWD (user defaults to root), overridden by the basic-auth secret's
// username and password files in dir when username exists, one trailing
// newline trimmed (a missing password file keeps PASSWD), as
// fe_entrypoint.sh / be_entrypoint.sh read them.
func AdminCredentials(user, password, dir string) Credentials {
	cr := Credentials{User: "root", Password: password}
	if user != "" {
		cr.User = user
	}
	if b, err := os.ReadFile(filepath.Join(dir, "username")); err == nil {
		cr.User = strings.TrimSuffix(string(b), "\n")
		if b, err := os.ReadFile(filepath.Join(dir, "password")); err == nil {
			cr.Password = strings.TrimSuffix(string(b), "\n")
		}
	}
	return cr
}
