package registry

import (
	"bufio"
	"bytes"
	"math/rand"
	"reflect"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/ledgerline/ledgerline/schemas"
)

func parseSeeds() [][]byte {
	seeds := [][]byte{[]byte(`{}`), []byte(`[]`), []byte(`{"a":[1,-0.5e+3,true,false,null,"x"],"b":{"c":""}}`),
		[]byte(` {"a" : 1 } `), []byte(`{"a":1}x`), []byte(`{"a":01}`), []byte(`{"a":"\u00e9"}`), []byte("{\"a\":\"\xff\"}"),
		[]byte(`{"a":1,"a":2}`), []byte(`{"a":-}`), []byte(`{"a":1.}`), []byte(`{"a":"tab	"}`), []byte(`[1,]`), []byte(`{"a":1,}`),
		[]byte(`{"a":"x\"y\\z\/\b\f\n\r\t\u0000\u00E9\uffff"}`), []byte(`["\ud83d\ude00","\ud800","\udc00x","\ud800\u0041","\q","\u12"]`),
		[]byte(`{"\u0061":1,"a":2}`), []byte("[\"\xc3\xa9\u00e9\", \"\u00e9\xc3\"]"), []byte(`{"a":{"b":[{},[],{"c":[1,{"d":null}]}]},"e":[[]]}`)}
	for _, f := range []string{"examples/bank-2026-10.ndjson", "examples/bad-events.ndjson"} {
		b, _ := schemas.Examples.ReadFile(f)
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			seeds = append(seeds, append([]byte(nil), sc.Bytes()...))
		}
	}
	return seeds
}

// agree fails when parseFast answers something encoding/json does not: its value,
// in the library's form (toAny), must be exactly decode's. It also parses with a
// pooled parser, reused, which must give the same.
func agree(t *testing.T, in []byte) bool {
	fast, ok := parseFast(in)
	p := getParser()
	defer p.release()
	p.parse([]byte(`{"warm":["the",{"buffers":1}]}`))
	pooled, pok := p.parse(in)
	if pok != ok {
		t.Fatalf("parse(%q): fresh parser %v, reused parser %v", in, ok, pok)
	}
	if !ok {
		return false
	}
	std, err := jsonschema.UnmarshalJSON(bytes.NewReader(in))
	if err != nil {
		t.Fatalf("parseFast accepted %q, encoding/json refuses it: %v", in, err)
	}
	if got := fast.toAny(); !reflect.DeepEqual(got, std) {
		t.Fatalf("parseFast(%q) = %#v, encoding/json = %#v", in, got, std)
	}
	if got := pooled.toAny(); !reflect.DeepEqual(got, std) {
		t.Fatalf("reused parser on %q = %#v, encoding/json = %#v", in, got, std)
	}
	return true
}

func TestParseFastAgreesWithEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	seeds := parseSeeds()
	answered := 0
	for _, s := range seeds {
		if agree(t, s) {
			answered++
		}
	}
	if answered < 50 {
		t.Fatalf("parseFast answered only %d of %d seeds", answered, len(seeds))
	}
	// Byte-level mutations of the seeds: flips, deletions, insertions, truncations.
	alphabet := []byte(`{}[],:"\ -+.0123456789eEtrufalsn` + "\x00\x1f\xc3\xa9\xff")
	for n := 0; n < 50000; n++ {
		s := append([]byte(nil), seeds[rng.Intn(len(seeds))]...)
		for k := 0; k <= rng.Intn(3); k++ {
			if len(s) == 0 {
				break
			}
			i := rng.Intn(len(s))
			switch rng.Intn(4) {
			case 0:
				s[i] = alphabet[rng.Intn(len(alphabet))]
			case 1:
				s = append(s[:i], s[i+1:]...)
			case 2:
				s = append(s[:i], append([]byte{alphabet[rng.Intn(len(alphabet))]}, s[i:]...)...)
			case 3:
				s = s[:i]
			}
		}
		agree(t, s)
	}
}

func FuzzParseFast(f *testing.F) {
	for _, s := range parseSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) { agree(t, in) })
}
