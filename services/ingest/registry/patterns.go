package registry

import "regexp"

// matcher matches a string against a schema pattern.
type matcher interface{ MatchString(string) bool }

type matchFunc func(string) bool

func (f matchFunc) MatchString(s string) bool { return f(s) }

// hotPatterns are the patterns of the built-in schemas that every event meets,
// matched by hand: Go's regexp costs ~250 ns a call, these a few ns.
// TestHotPatternsMatchLikeRegexp checks each against regexp on crafted and random strings.
var hotPatterns = map[string]matchFunc{
	"^[^\u0000-\u001f\u007f]+$": func(s string) bool { // identifier: no control characters
		if s == "" {
			return false
		}
		for i := 0; i < len(s); i++ {
			if c := s[i]; c < 0x20 || c == 0x7f {
				return false
			}
		}
		return true
	},
	`^-?[0-9]{1,30}(\.[0-9]{1,18})?$`: func(s string) bool { // decimal
		i := 0
		if i < len(s) && s[i] == '-' {
			i++
		}
		n := digits(s[i:])
		if n < 1 || n > 30 {
			return false
		}
		i += n
		if i == len(s) {
			return true
		}
		if s[i] != '.' {
			return false
		}
		f := digits(s[i+1:])
		return f >= 1 && f <= 18 && i+1+f == len(s)
	},
	`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$`: func(s string) bool { // event type
		word := false
		for i := 0; i < len(s); i++ {
			c := s[i]
			switch {
			case c >= 'a' && c <= 'z':
				word = true
			case (c >= '0' && c <= '9') || c == '_':
				if !word {
					return false
				}
			case c == '.':
				if !word {
					return false
				}
				word = false
			default:
				return false
			}
		}
		return word
	},
	`^[a-z][a-z0-9_]*$`: func(s string) bool {
		if s == "" || s[0] < 'a' || s[0] > 'z' {
			return false
		}
		for i := 1; i < len(s); i++ {
			if c := s[i]; !(c >= 'a' && c <= 'z') && !(c >= '0' && c <= '9') && c != '_' {
				return false
			}
		}
		return true
	},
	`^[A-Z]{3}$`: func(s string) bool { return len(s) == 3 && upper(s) },
	`^[A-Z]{2}$`: func(s string) bool { return len(s) == 2 && upper(s) },
	`^[0-9]`:     func(s string) bool { return s != "" && s[0] >= '0' && s[0] <= '9' },
	`^[0-9.]*[1-9]`: func(s string) bool { // a non-zero digit before anything but digits and dots
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c >= '1' && c <= '9' {
				return true
			}
			if c != '0' && c != '.' {
				return false
			}
		}
		return false
	},
}

func digits(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}

func upper(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

// compilePattern is the fast path's pattern compiler.
func compilePattern(p string) (matcher, error) {
	if f, ok := hotPatterns[p]; ok {
		return f, nil
	}
	return regexp.Compile(p)
}
