package render

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"
)

// entryTime is every zip entry's modified time. The zip format stamps each entry
// with the clock; a constant makes the archive a function of its contents.
// 1980-01-01 is the earliest time an MS-DOS timestamp can hold.
var entryTime = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// contentTypes is the part that tells readers what every other part is; by
// convention (and for tools that sniff the first entry) it goes first.
const contentTypes = "[Content_Types].xml"

// packer is the excelize.ZipWriter used for every workbook this package saves
// (File.SetZipWriter): excelize writes its parts into memory, and Close writes
// them out as one deterministic archive — entries sorted by name with
// [Content_Types].xml first (excelize's own order depends on map iteration),
// every entry Deflate-compressed and stamped with entryTime. Doing this at save
// time rather than re-packing the finished archive saves a second inflate and
// deflate of every part.
type packer struct {
	out     io.Writer
	entries map[string]*bytes.Buffer
	// fix, when set, may rewrite a part before it is compressed.
	fix func(name string, data []byte) ([]byte, error)
}

var _ excelize.ZipWriter = (*packer)(nil)

func newPacker(out io.Writer, fix func(name string, data []byte) ([]byte, error)) *packer {
	return &packer{out: out, entries: map[string]*bytes.Buffer{}, fix: fix}
}

// Create starts a part; excelize writes each part once.
func (p *packer) Create(name string) (io.Writer, error) {
	if _, ok := p.entries[name]; ok {
		return nil, fmt.Errorf("zip entry %s written twice", name)
	}
	b := new(bytes.Buffer)
	p.entries[name] = b
	return b, nil
}

// AddFS adds every regular file of fsys (excelize does not call it today; it is
// part of the interface).
func (p *packer) AddFS(fsys fs.FS) error {
	return fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		w, err := p.Create(name)
		if err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	})
}

// Close writes the archive.
func (p *packer) Close() error {
	names := make([]string, 0, len(p.entries))
	for name := range p.entries {
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool {
		if (names[i] == contentTypes) != (names[j] == contentTypes) {
			return names[i] == contentTypes
		}
		return names[i] < names[j]
	})
	zw := zip.NewWriter(p.out)
	for _, name := range names {
		data := p.entries[name].Bytes()
		if p.fix != nil {
			var err error
			if data, err = p.fix(name, data); err != nil {
				return err
			}
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: entryTime})
		if err != nil {
			return err
		}
		if _, err := w.Write(data); err != nil {
			return err
		}
	}
	return zw.Close()
}

// numericText is what an amount looks like: StringFixed output.
var numericText = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)

// numberCells rewrites, in one worksheet part, every cell with style id style
// from the inline string excelize's StreamWriter wrote,
//
//	<c r="D8" s="3" t="inlineStr"><is><t>1234.50</t></is></c>
//
// into the number cell the amount is,
//
//	<c r="D8" s="3"><v>1234.50</v></c>
//
// keeping the exact text. It exists because the StreamWriter (excelize v2.11.1)
// writes a raw <v> only for Go ints and floats; see streamAmount. Only cells of
// the amount style are touched, so a dimension value that looks like a number
// ("0012") stays a string. It returns how many cells it rewrote.
func numberCells(part []byte, style int) ([]byte, int, error) {
	marker := []byte(` s="` + strconv.Itoa(style) + `" t="inlineStr"><is><t>`)
	end := []byte(`</t></is></c>`)
	if !bytes.Contains(part, marker) {
		return part, 0, nil
	}
	// The marker holds '"' and '<', which excelize escapes in cell text, so it
	// can only match the start of a cell.
	out := make([]byte, 0, len(part))
	n := 0
	for {
		i := bytes.Index(part, marker)
		if i < 0 {
			out = append(out, part...)
			return out, n, nil
		}
		text := part[i+len(marker):]
		j := bytes.Index(text, end)
		if j < 0 {
			return nil, n, fmt.Errorf("amount cell without an end in a streamed sheet")
		}
		text = text[:j]
		if !numericText.Match(text) {
			return nil, n, fmt.Errorf("amount cell holds %q, not a number", text)
		}
		out = append(out, part[:i]...)
		out = append(out, ` s="`...)
		out = append(out, strconv.Itoa(style)...)
		out = append(out, `"><v>`...)
		out = append(out, text...)
		out = append(out, `</v></c>`...)
		part = part[i+len(marker)+j+len(end):]
		n++
	}
}

func isWorksheetPart(name string) bool {
	return strings.HasPrefix(name, "xl/worksheets/") && strings.HasSuffix(name, ".xml") &&
		!strings.Contains(name, "/_rels/")
}
