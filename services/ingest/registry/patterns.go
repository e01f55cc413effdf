package registry

import (
	"regexp"
	"strings"
)

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
	`^(0(\.[0-9]{1,18})?|1(\.0{1,18})?)$`: func(s string) bool { // a factor between 0 and 1
		if s == "0" || s == "1" {
			return true
		}
		if len(s) < 3 || len(s) > 20 || s[1] != '.' {
			return false
		}
		switch s[0] {
		case '0':
			return digits(s[2:]) == len(s)-2
		case '1':
			return strings.Trim(s[2:], "0") == ""
		}
		return false
	},
	`^[0-9]{4,10}$`: func(s string) bool { return len(s) >= 4 && len(s) <= 10 && digits(s) == len(s) },
	`^[A-Z0-9]{18}[0-9]{2}$`: func(s string) bool { // LEI
		return len(s) == 20 && upperOrDigits(s[:18]) && digits(s[18:]) == 2
	},
	`^[A-Z]{2}[A-Z0-9]{9}[0-9]$`: func(s string) bool { // ISIN
		return len(s) == 12 && upper(s[:2]) && upperOrDigits(s[2:11]) && digits(s[11:]) == 1
	},
	`^[0-9]{4}(-(0[1-9]|1[0-2])|-Q[1-4])?$`: func(s string) bool { // period: year, month or quarter
		if len(s) < 4 || digits(s[:4]) != 4 {
			return false
		}
		switch r := s[4:]; {
		case r == "":
			return true
		case len(r) != 3 || r[0] != '-':
			return false
		case r[1] == 'Q':
			return r[2] >= '1' && r[2] <= '4'
		case r[1] == '0':
			return r[2] >= '1' && r[2] <= '9'
		case r[1] == '1':
			return r[2] >= '0' && r[2] <= '2'
		}
		return false
	},
	`\S`: func(s string) bool { // not blank: RE2's \s is ASCII [\t\n\f\r ], anything else counts
		for i := 0; i < len(s); i++ {
			switch s[i] {
			case '\t', '\n', '\f', '\r', ' ':
			default:
				return true
			}
		}
		return false
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

func upperOrDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
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
