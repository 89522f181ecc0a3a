package annotations

import (
	"reflect"
	"strings"
	"testing"

	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

// FuzzParse feeds annotation maps written as "key=value" lines; keys without a "/" get
// the native prefix, keys starting with "n:" the nginx one.
func FuzzParse(f *testing.F) {
	seeds := []string{
		"",
		"affinity=cookie\ncookie-max-age=abc",
		"affinity=cookie\ncookie-name=CART\ncookie-path=/\ncookie-domain=.example.com\ncookie-max-age=2h\ncookie-secure=auto\ncookie-httponly=false\ncookie-samesite=None",
		"affinity=source-ip\nsource-ip-prefix=24\nhash-balance-factor=1.25\nfallback=strict",
		"affinity=header\nhash-header=X-User-Id\nload-balance=least-request",
		"affinity=header",
		"n:affinity=cookie\nn:affinity-mode=persistent\nn:session-cookie-name=route\nn:session-cookie-expires=172800\nn:session-cookie-max-age=172800",
		"n:affinity=cookie\nn:session-cookie-samesite=None\nn:session-cookie-secure=false\nn:session-cookie-conditional-samesite-none=true",
		"n:upstream-hash-by=$http_x_user_id\nhash-header=X-Other",
		"n:upstream-hash-by=$cookie_\nn:load-balance=ewma",
		"n:upstream-hash-by=$arg_user\nn:upstream-hash-by-subset=true",
		"cookie-maxage=1h\nn:session-cookie-change-on-failure=false",
		"affinity= \ncookie-max-age=-1h\nhash-balance-factor=Inf",
		"cookie-max-age=9223372036854775807\nsource-ip-prefix=-1",
		"affinity=cookie\ncookie-path=/a\x01\ncookie-domain=.a_b.test",
		"n:upstream-hash-by=$arg_\x00",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		ann := map[string]string{}
		for _, line := range strings.Split(in, "\n") {
			k, v, _ := strings.Cut(line, "=")
			switch {
			case strings.HasPrefix(k, "n:"):
				k = NginxPrefix + k[2:]
			case !strings.Contains(k, "/"):
				k = Prefix + k
			}
			ann[k] = v
		}
		res := Parse(ann)
		set := 0
		for _, b := range []bool{res.Affinity.Policy.Cookie != nil, res.Affinity.Policy.SourceIP != nil, res.Affinity.Policy.Header != nil} {
			if b {
				set++
			}
		}
		if set > 1 {
			t.Fatalf("more than one affinity kind set: %+v", res.Affinity.Policy)
		}
		if res.Rejected() && !reflect.DeepEqual(res.Affinity, None) {
			t.Fatalf("rejected result carries affinity %+v", res.Affinity)
		}
		if res.Affinity.LoadBalance == "" {
			t.Fatal("no load-balance method")
		}
		if res.Affinity.Policy.Mode() != "none" && res.Affinity.Policy.Fallback == "" {
			t.Fatal("affinity without fallback")
		}
		if c := res.Affinity.Policy.Cookie; c != nil && (!IsCookieName(c.Name) || c.MaxAge < 0) {
			t.Fatalf("invalid cookie accepted: %+v", c)
		}
		for _, p := range res.Problems {
			if _, ok := ann[p.Key]; !ok {
				t.Fatalf("problem about an absent key: %v", p)
			}
			if !strings.HasPrefix(p.Error(), "annotation "+p.Key+": ") {
				t.Fatalf("problem message %q does not name its key", p.Error())
			}
		}
		snap := routetable.Snapshot{Backends: []routetable.Backend{{Name: "b", LoadBalance: res.Affinity.LoadBalance, Affinity: res.Affinity.Policy}}}
		if err := snap.Validate(); err != nil {
			t.Fatalf("accepted affinity the route table refuses: %v", err)
		}
		if again := Parse(ann); !reflect.DeepEqual(again, res) {
			t.Fatalf("Parse is not deterministic:\n%+v\n%+v", res, again)
		}
	})
}
