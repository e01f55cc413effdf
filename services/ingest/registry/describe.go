package registry

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

var printer = message.NewPrinter(language.English)

// describe turns a validation error tree into a Problem: one message per failing
// leaf, each starting with the field in dotted form (data.outstanding), phrased for
// the person who has to fix the source system.
func describe(code, prefix string, err error) *Problem {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return &Problem{Code: code, Field: prefix, Message: err.Error()}
	}
	var leaves []*jsonschema.ValidationError
	collect(ve, &leaves)
	seen := map[string]bool{}
	var fields []FieldError
	for _, l := range leaves {
		fe := describeLeaf(prefix, l)
		key := fe.Field + "\x00" + fe.Message
		if seen[key] {
			continue
		}
		seen[key] = true
		fields = append(fields, fe)
	}
	sort.SliceStable(fields, func(i, j int) bool { return fields[i].Field < fields[j].Field })
	if len(fields) == 0 {
		return &Problem{Code: code, Field: prefix, Message: ve.Error()}
	}
	msgs := make([]string, len(fields))
	for i, f := range fields {
		msgs[i] = f.Message
	}
	p := &Problem{Code: code, Field: fields[0].Field, Message: strings.Join(msgs, "; ")}
	if len(fields) > 1 {
		p.Fields = fields
	}
	return p
}

func collect(ve *jsonschema.ValidationError, out *[]*jsonschema.ValidationError) {
	if len(ve.Causes) == 0 {
		*out = append(*out, ve)
		return
	}
	for _, c := range ve.Causes {
		collect(c, out)
	}
}

func fieldName(prefix string, loc []string) string {
	parts := make([]string, 0, len(loc)+1)
	if prefix != "" {
		parts = append(parts, prefix)
	}
	parts = append(parts, loc...)
	return strings.Join(parts, ".")
}

func describeLeaf(prefix string, l *jsonschema.ValidationError) FieldError {
	field := fieldName(prefix, l.InstanceLocation)
	label := field
	if label == "" {
		label = "event"
	}
	switch k := l.ErrorKind.(type) {
	case *kind.Required:
		f := fieldName(prefix, append(append([]string{}, l.InstanceLocation...), k.Missing[0]))
		names := make([]string, len(k.Missing))
		for i, m := range k.Missing {
			names[i] = fieldName(prefix, append(append([]string{}, l.InstanceLocation...), m))
		}
		return FieldError{Field: f, Message: fmt.Sprintf("%s: required field missing", strings.Join(names, ", "))}
	case *kind.AdditionalProperties:
		// The library lists them in map order, which changes from run to run:
		// sorted, the same event always gets the same message and field.
		props := append([]string(nil), k.Properties...)
		sort.Strings(props)
		f := fieldName(prefix, append(append([]string{}, l.InstanceLocation...), props[0]))
		return FieldError{Field: f, Message: fmt.Sprintf("%s: unknown field %s (not in the schema; check the spelling)",
			label, quoteAll(props))}
	case *kind.Type:
		if k.Got == "number" || k.Got == "integer" {
			for _, w := range k.Want {
				if w == "string" && strings.Contains(l.SchemaURL, "decimal") {
					return FieldError{Field: field, Message: fmt.Sprintf("%s: money and quantities are JSON strings holding an exact decimal (e.g. \"1234.56\"), got a JSON number", label)}
				}
			}
		}
		return FieldError{Field: field, Message: fmt.Sprintf("%s: got %s, want %s", label, k.Got, strings.Join(k.Want, " or "))}
	case *kind.MinLength:
		if k.Got == 0 {
			return FieldError{Field: field, Message: fmt.Sprintf("%s: must not be empty", label)}
		}
		return FieldError{Field: field, Message: fmt.Sprintf("%s: %d characters, want at least %d", label, k.Got, k.Want)}
	case *kind.MaxLength:
		return FieldError{Field: field, Message: fmt.Sprintf("%s: %d characters, want at most %d", label, k.Got, k.Want)}
	case *kind.Pattern:
		if k.Got == "" {
			return FieldError{Field: field, Message: fmt.Sprintf("%s: must not be empty", label)}
		}
		if strings.Contains(l.SchemaURL, "decimal") {
			return FieldError{Field: field, Message: fmt.Sprintf("%s: %q is not an exact decimal (digits, optional sign and decimal point, e.g. \"1234.56\")", label, k.Got)}
		}
		return FieldError{Field: field, Message: fmt.Sprintf("%s: %q does not match the pattern %q", label, k.Got, k.Want)}
	case *kind.Format:
		return FieldError{Field: field, Message: fmt.Sprintf("%s: %s is not a valid %s (%v)", label, quoteValue(k.Got), formatName(k.Want), k.Err)}
	case *kind.FalseSchema:
		if field == "data" {
			return FieldError{Field: field, Message: "data: not allowed: a void event carries no data, it only cancels the event named in supersedes"}
		}
		return FieldError{Field: field, Message: fmt.Sprintf("%s: not allowed here", label)}
	case *kind.Enum:
		return FieldError{Field: field, Message: fmt.Sprintf("%s: %v is not one of the allowed values %v", label, k.Got, k.Want)}
	default:
		return FieldError{Field: field, Message: fmt.Sprintf("%s: %s", label, l.ErrorKind.LocalizedString(printer))}
	}
}

func formatName(f string) string {
	switch f {
	case "date-time":
		return "RFC 3339 date-time with offset, e.g. \"2026-10-31T18:00:00Z\""
	case "date":
		return "date, e.g. \"2026-10-31\""
	}
	return f
}

func quoteAll(s []string) string {
	q := make([]string, len(s))
	for i, x := range s {
		q[i] = fmt.Sprintf("%q", x)
	}
	return strings.Join(q, ", ")
}

func quoteValue(v any) string {
	if s, ok := v.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprint(v)
}
