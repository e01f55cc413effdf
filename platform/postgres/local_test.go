package postgres

import (
	"errors"
	"strings"
	"testing"
)

func TestNoPostgresSaysHowToFixIt(t *testing.T) {
	_, err := FindBinaries("/nonexistent/bin")
	if !errors.Is(err, ErrNoPostgres) {
		t.Fatalf("err = %v, want ErrNoPostgres", err)
	}
	for _, hint := range []string{"LEDGERLINE_DATABASE_URL", "initdb", "apt-get install postgresql"} {
		if !strings.Contains(err.Error(), hint) {
			t.Errorf("error %q does not mention %s", err, hint)
		}
	}
}

func TestClusterDirFallsBackWhenThePostgresUserCannotReachIt(t *testing.T) {
	dir, err := ClusterDir("/root/somewhere/var")
	if err != nil {
		t.Fatal(err)
	}
	cred, _ := serverUser()
	if cred != nil && !strings.HasPrefix(dir, "/var/tmp/ledgerline-postgres-") {
		t.Fatalf("as root with a data dir under /root: cluster dir %s, want the /var/tmp fallback", dir)
	}
	if cred == nil && dir != "/root/somewhere/var/postgres" {
		t.Fatalf("cluster dir %s", dir)
	}
}
