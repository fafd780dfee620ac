package sqlstore

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/push/apns"
	"github.com/heraldim/herald/internal/store/storetest"
)

func TestProviderTokenContract(t *testing.T) {
	storetest.RunProviderTokens(t, func(t *testing.T, dir string) storetest.TokenStore {
		return openTest(t, Config{Path: filepath.Join(dir, "herald.db")})
	})
}

// Two stores on one file, as two processes on one database: both find no
// token and store their own at once; both end up with the same one.
func TestProviderTokenTwoHandles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "herald.db")
	a := openTest(t, Config{Path: path})
	defer a.Close()
	b := openTest(t, Config{Path: path})
	defer b.Close()
	key := apns.TokenKey{TeamID: "TEAM000001", KeyID: "KEY0000001", KeySHA256: "ab12"}
	issued := time.Unix(1_750_000_000, 0)
	for round := range 20 {
		k := key
		k.KeyID = fmt.Sprint("KEY", round)
		var got [2]apns.ProviderToken
		var errs [2]error
		var wg sync.WaitGroup
		for i, s := range []*Store{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got[i], errs[i] = s.SwapProviderToken(t.Context(), k, time.Time{},
					apns.ProviderToken{Token: fmt.Sprint("proc", i), Issued: issued})
			}()
		}
		wg.Wait()
		if errs[0] != nil || errs[1] != nil {
			t.Fatal(errs)
		}
		if got[0] != got[1] {
			t.Fatalf("round %d: two processes use %q and %q", round, got[0].Token, got[1].Token)
		}
	}
}
