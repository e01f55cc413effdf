package template

import (
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// yaml.v3 reports unknown keys and mistyped values as lines of text naming a
// line and a Go type ("line 7: field colour not found in type
// template.rawCell"). This file turns them into Problems naming the field's
// path and the cell concerned, by finding the node on that line in an index
// of the document.

// nodeIndex maps the field paths of a document to its nodes.
type nodeIndex struct {
	byPath map[string]*yaml.Node // the value node of each path; the first one wins
	keys   []indexed             // mapping keys, with the path of their value
	values []indexed             // every value node, with its path
}

type indexed struct {
	node       *yaml.Node
	path       string
	parentPath string
}

func indexNodes(root *yaml.Node) *nodeIndex {
	x := &nodeIndex{byPath: map[string]*yaml.Node{}}
	x.walk(root, "", "")
	return x
}

func (x *nodeIndex) walk(n *yaml.Node, path, parent string) {
	if _, seen := x.byPath[path]; !seen {
		x.byPath[path] = n
	}
	x.values = append(x.values, indexed{node: n, path: path, parentPath: parent})
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			child := k.Value
			if path != "" {
				child = path + "." + k.Value
			}
			x.keys = append(x.keys, indexed{node: k, path: child, parentPath: path})
			x.walk(v, child, path)
		}
	case yaml.SequenceNode:
		for i, item := range n.Content {
			seg := "[" + strconv.Itoa(i) + "]"
			if path == "validations" {
				seg = "[" + strings.TrimPrefix(validationPath(i, scalarKey(item, "id")), "validations[")
			}
			x.walk(item, path+seg, path)
		}
	}
}

// scalarKey returns the scalar value of key in mapping n, "" when there is none.
func scalarKey(n *yaml.Node, key string) string {
	if n.Kind != yaml.MappingNode {
		return ""
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key && n.Content[i+1].Kind == yaml.ScalarNode {
			return n.Content[i+1].Value
		}
	}
	return ""
}

// near returns the node of path, or of its closest ancestor that exists.
func (x *nodeIndex) near(path string) *yaml.Node {
	for {
		if n, ok := x.byPath[path]; ok {
			return n
		}
		if path == "" {
			return nil
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			path = ""
		} else {
			path = path[:i]
		}
	}
}

var (
	reUnknownField = regexp.MustCompile(`^line (\d+): field (.*) not found in type (\S+)$`)
	reCannot       = regexp.MustCompile("^line (\\d+): cannot unmarshal (!!\\w+)(?: `(.*)`)? into (.+)$")
	reDuplicateKey = regexp.MustCompile(`^line (\d+): mapping key (".*") already defined at line (\d+)$`)
	reAlreadySet   = regexp.MustCompile(`^line (\d+): field (.*) already set in type (\S+)$`)
)

// typeError turns one of yaml.v3's decoding errors into a problem.
func (p *parser) typeError(msg string) {
	line := func(s string) int { n, _ := strconv.Atoi(s); return n }
	switch {
	case reUnknownField.MatchString(msg):
		m := reUnknownField.FindStringSubmatch(msg)
		k := p.idx.key(line(m[1]), m[2])
		text := fmt.Sprintf("unknown field %q", m[2])
		if known := yamlKeys[m[3]]; len(known) > 0 {
			text += " (fields: " + strings.Join(known, ", ") + ")"
		}
		p.problemAt(k, text)
	case reDuplicateKey.MatchString(msg):
		m := reDuplicateKey.FindStringSubmatch(msg)
		name, _ := strconv.Unquote(m[2])
		k := p.idx.key(line(m[1]), name)
		p.problemAt(k, fmt.Sprintf("given twice (also on line %s)", m[3]))
		if k != nil {
			// yaml.v3 decodes nothing of a mapping with a duplicate key.
			p.bad = append(p.bad, k.parentPath)
		}
	case reAlreadySet.MatchString(msg):
		m := reAlreadySet.FindStringSubmatch(msg)
		p.problemAt(p.idx.key(line(m[1]), m[2]), "given twice")
	case reCannot.MatchString(msg):
		m := reCannot.FindStringSubmatch(msg)
		v := p.idx.value(line(m[1]), m[2], m[3])
		got := m[3]
		if v != nil {
			got = v.node.Value
			p.bad = append(p.bad, v.path)
		}
		var text string
		switch m[2] {
		case "!!seq":
			text = "a list"
		case "!!map":
			text = "a mapping"
		case "!!str":
			text = strconv.Quote(got)
		default:
			text = got
		}
		p.problemAt(v, fmt.Sprintf("want %s, not %s", describeType(m[4]), text))
	default:
		p.addAlways("", "", msg)
	}
}

// problemAt adds a problem located at an indexed node (nil: unknown).
func (p *parser) problemAt(at *indexed, msg string) {
	if at == nil {
		p.addAlways("", "", msg)
		return
	}
	p.problems = append(p.problems, Problem{
		Cell: p.cellOf(at.path), Field: at.path, Message: msg,
		Line: at.node.Line, Column: at.node.Column,
	})
}

// key finds the mapping key named name on a line.
func (x *nodeIndex) key(line int, name string) *indexed {
	for i := range x.keys {
		if k := &x.keys[i]; k.node.Line == line && k.node.Value == name {
			return k
		}
	}
	return nil
}

// value finds the value node a "cannot unmarshal" error is about: on its
// line, of its tag, with its (possibly shortened) value.
func (x *nodeIndex) value(line int, tag, shown string) *indexed {
	var first *indexed
	for i := range x.values {
		v := &x.values[i]
		if v.node.Line != line || v.node.ShortTag() != tag {
			continue
		}
		if first == nil {
			first = v
		}
		if v.node.Value == shown || strings.HasSuffix(shown, "...") && strings.HasPrefix(v.node.Value, strings.TrimSuffix(shown, "...")) {
			return v
		}
	}
	return first
}

// cellOf returns the code of the cell or table, or the id of the validation,
// that a path is inside, as written in the YAML.
func (p *parser) cellOf(path string) string {
	var i, j int
	for _, form := range []string{"sheets[%d].cells[%d]", "sheets[%d].tables[%d]"} {
		if n, _ := fmt.Sscanf(path, form, &i, &j); n == 2 {
			if node := p.idx.byPath[fmt.Sprintf(form, i, j)]; node != nil {
				return scalarKey(node, "code")
			}
			return ""
		}
	}
	if rest, ok := strings.CutPrefix(path, "validations["); ok {
		if end := strings.Index(rest, "]"); end >= 0 {
			if node := p.idx.byPath[path[:len("validations[")+end+1]]; node != nil {
				return scalarKey(node, "id")
			}
		}
	}
	return ""
}

// describeType says in words what a Go type of the raw template holds.
func describeType(goType string) string {
	t := strings.TrimPrefix(goType, "*")
	switch t {
	case "int":
		return "a whole number"
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "[]string":
		return "a list of strings"
	case "map[string]string":
		return "a mapping of names to strings"
	}
	if strings.HasPrefix(t, "[]") {
		return "a list"
	}
	if strings.HasPrefix(t, "template.raw") {
		return "a mapping"
	}
	return t
}

// yamlKeys lists the keys of each raw type by its Go name, for messages about
// unknown keys.
var yamlKeys = func() map[string][]string {
	out := map[string][]string{}
	for _, v := range []any{rawTemplate{}, rawSheet{}, rawCell{}, rawTable{}, rawValidation{}, rawSubmission{}} {
		t := reflect.TypeOf(v)
		var keys []string
		for i := range t.NumField() {
			name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
			keys = append(keys, name)
		}
		out[t.String()] = keys
	}
	return out
}()

func typeName(v any) string { return reflect.TypeOf(v).String() }
