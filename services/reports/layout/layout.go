// Package layout vets a regulator's workbook (a template's layout.xlsx) before
// anything parses it. Layouts are uploaded by people, so the bytes are untrusted:
// Check refuses what is not a plain, macro-free XLSX package of sane size, reading
// the zip archive itself (central directory and a bounded decompression of every
// entry) before excelize ever sees it, and reports the sheets the renderer can
// fill. Package render calls Check again before it opens a stored layout.
package layout

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"encoding/xml"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"path"
	"strings"

	"github.com/xuri/excelize/v2"
)

// Limits. A real regulator workbook is a few hundred KiB; these leave two orders
// of magnitude of headroom and still keep a hostile upload from exhausting memory.
const (
	// MaxInputSize is the largest upload accepted, compressed.
	MaxInputSize = 20 << 20
	// MaxUncompressedSize caps the sum of all entries' uncompressed sizes.
	MaxUncompressedSize = 100 << 20
	// MaxEntries caps the number of zip entries.
	MaxEntries = 10_000
	// MaxRatio is the highest compression ratio tolerated for an entry larger
	// than RatioFloor; XML compresses well, but not a thousandfold.
	MaxRatio = 100
	// RatioFloor is the size under which the ratio is not checked: small
	// entries (an empty sheet, a shared-strings stub) may compress extremely
	// well and cannot hurt.
	RatioFloor = 1 << 20
)

// The refusals, one sentinel per kind so callers (the HTTP layer) can map them
// with errors.Is; the wrapped message says which entry and which limit.
var (
	ErrTooLarge  = errors.New("layout is too large")
	ErrNotZip    = errors.New("layout is not an XLSX workbook (not a zip archive)")
	ErrCorrupt   = errors.New("layout is a corrupt zip archive")
	ErrEncrypted = errors.New("layout is an OLE compound file: password-protected or legacy .xls files are not supported")
	ErrZipBomb   = errors.New("layout exceeds the decompression limits")
	ErrMacros    = errors.New("layout contains macros or embedded binaries")
	ErrNotXLSX   = errors.New("layout is not an XLSX workbook")
)

// oleMagic starts every OLE2 compound file: legacy .xls, and also any
// password-protected .xlsx (Office wraps the encrypted package in OLE).
var oleMagic = []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}

// Info describes a workbook that passed Check.
type Info struct {
	Sheets           []Sheet // worksheets, in workbook order
	Entries          int     // zip entries
	UncompressedSize int64   // bytes, all entries
}

// Sheet is one worksheet of a layout.
type Sheet struct {
	Name string
	// Used is the smallest range holding every non-empty cell value, e.g.
	// "B2:D8", or "" for a sheet without values. It is computed from the
	// cells: the <dimension> a file declares is not reliable (excelize, for
	// one, always writes "A1").
	Used string
}

// HasSheet reports whether the layout has a worksheet with exactly this name.
func (i *Info) HasSheet(name string) bool {
	if i == nil {
		return false
	}
	for _, s := range i.Sheets {
		if s.Name == name {
			return true
		}
	}
	return false
}

// SheetNames returns the worksheet names in workbook order.
func (i *Info) SheetNames() []string {
	names := make([]string, len(i.Sheets))
	for k, s := range i.Sheets {
		names[k] = s.Name
	}
	return names
}

// ValidCell checks that ref is a single A1-style cell reference inside Excel's
// grid (columns A..XFD, rows 1..1048576), e.g. "D8".
func ValidCell(ref string) error {
	if _, _, err := excelize.CellNameToCoordinates(ref); err != nil {
		return fmt.Errorf("invalid cell reference %q: %w", ref, err)
	}
	return nil
}

// Check vets data as an uploaded layout and returns what the renderer needs to
// know about it. The order matters: cheap checks on the raw bytes first, then
// the central directory, then a bounded decompression of every entry, and only
// then excelize (which reads every entry into memory, so it must not see a bomb).
func Check(data []byte) (*Info, error) {
	if len(data) > MaxInputSize {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d MiB", ErrTooLarge, len(data), MaxInputSize>>20)
	}
	if bytes.HasPrefix(data, oleMagic) {
		return nil, ErrEncrypted
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		// A zip starts with a local file header (or, if empty, the end
		// record); anything else was never a zip, which deserves a plainer
		// message than "corrupt".
		if !bytes.HasPrefix(data, []byte("PK\x03\x04")) && !bytes.HasPrefix(data, []byte("PK\x05\x06")) {
			return nil, ErrNotZip
		}
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	info := &Info{Entries: len(zr.File)}
	if err := checkDirectory(zr.File, info); err != nil {
		return nil, err
	}
	contentTypes, err := inflateAll(zr.File)
	if err != nil {
		return nil, err
	}
	if err := checkContentTypes(contentTypes, zr.File); err != nil {
		return nil, err
	}

	f, err := excelize.OpenReader(bytes.NewReader(data), excelize.Options{
		// Belt and braces: excelize's own limits, equal to ours.
		UnzipSizeLimit: MaxUncompressedSize,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: excelize cannot open it: %v", ErrNotXLSX, err)
	}
	defer f.Close()
	for _, name := range f.GetSheetList() {
		// excelize parses a worksheet on first use; reading a cell forces it
		// now, so a broken sheet is refused at upload and not at filing time.
		if _, err := f.GetCellValue(name, "A1"); err != nil {
			// GetSheetList also lists chart and dialog sheets, which have no
			// cells to fill; excelize has no exported error for them, only
			// this message.
			if strings.Contains(err.Error(), "is not a worksheet") {
				continue
			}
			return nil, fmt.Errorf("%w: sheet %q cannot be read: %v", ErrNotXLSX, name, err)
		}
		used, err := usedRange(f, name)
		if err != nil {
			return nil, fmt.Errorf("%w: sheet %q cannot be read: %v", ErrNotXLSX, name, err)
		}
		info.Sheets = append(info.Sheets, Sheet{Name: name, Used: used})
	}
	if len(info.Sheets) == 0 {
		return nil, fmt.Errorf("%w: it has no worksheets", ErrNotXLSX)
	}
	return info, nil
}

// checkDirectory applies the limits to what the central directory declares,
// and refuses macro and binary parts by name. Declared sizes can lie; inflateAll
// enforces the same limits on the actual bytes.
func checkDirectory(files []*zip.File, info *Info) error {
	if len(files) > MaxEntries {
		return fmt.Errorf("%w: %d entries, the limit is %d", ErrZipBomb, len(files), MaxEntries)
	}
	var total uint64
	hasWorkbook, hasContentTypes := false, false
	for _, f := range files {
		if f.Flags&0x1 != 0 {
			return fmt.Errorf("%w: entry %s is encrypted", ErrCorrupt, f.Name)
		}
		if f.Method != zip.Store && f.Method != zip.Deflate {
			return fmt.Errorf("%w: entry %s uses unsupported compression method %d", ErrCorrupt, f.Name, f.Method)
		}
		if err := checkRatio(f.Name, f.UncompressedSize64, f.CompressedSize64); err != nil {
			return err
		}
		total += f.UncompressedSize64
		if total > MaxUncompressedSize {
			return fmt.Errorf("%w: the entries declare more than %d MiB uncompressed (at %s)", ErrZipBomb, MaxUncompressedSize>>20, f.Name)
		}
		if isBinaryPart(f.Name) {
			return fmt.Errorf("%w: entry %s (save the workbook as .xlsx without macros or embedded objects)", ErrMacros, f.Name)
		}
		switch f.Name {
		case "xl/workbook.xml":
			hasWorkbook = true
		case "[Content_Types].xml":
			hasContentTypes = true
		}
	}
	if !hasContentTypes {
		return fmt.Errorf("%w: no [Content_Types].xml", ErrNotXLSX)
	}
	if !hasWorkbook {
		return fmt.Errorf("%w: no xl/workbook.xml", ErrNotXLSX)
	}
	info.UncompressedSize = int64(total)
	return nil
}

func checkRatio(name string, uncompressed, compressed uint64) error {
	if uncompressed <= RatioFloor {
		return nil
	}
	if compressed == 0 || uncompressed/compressed > MaxRatio {
		return fmt.Errorf("%w: entry %s inflates %d bytes to %d (over %d:1)", ErrZipBomb, name, compressed, uncompressed, MaxRatio)
	}
	return nil
}

// isBinaryPart reports parts that carry executable or opaque content: the VBA
// project and any other .bin under xl/ (ActiveX controls, OLE embeddings, Excel 4
// macro sheets saved as binary). Printer settings are the exception: Excel writes
// xl/printerSettings/printerSettingsN.bin (a DEVMODE record, not code) into any
// workbook whose page setup was touched, which regulators' templates usually are.
func isBinaryPart(name string) bool {
	lower := strings.ToLower(name)
	if lower == "xl/vbaproject.bin" {
		return true
	}
	if !strings.HasPrefix(lower, "xl/") || path.Ext(lower) != ".bin" {
		return false
	}
	return !strings.HasPrefix(lower, "xl/printersettings/")
}

// inflateAll decompresses every entry into io.Discard, except [Content_Types].xml
// which it returns. It reads the raw bytes and inflates them itself, so that the
// limit is its own io.LimitReader at the declared size (plus one byte, to see a
// lie) rather than whatever the zip reader would do; it also checks each CRC, so
// a corrupt entry is reported here and not as an obscure XML error later.
func inflateAll(files []*zip.File) ([]byte, error) {
	var contentTypes []byte
	var total uint64
	for _, f := range files {
		raw, err := f.OpenRaw()
		if err != nil {
			return nil, fmt.Errorf("%w: entry %s: %v", ErrCorrupt, f.Name, err)
		}
		var r io.Reader = raw
		if f.Method == zip.Deflate {
			r = flate.NewReader(raw)
		}
		crc := crc32.NewIEEE()
		var w io.Writer = crc
		var buf *bytes.Buffer
		if f.Name == "[Content_Types].xml" {
			buf = new(bytes.Buffer)
			w = io.MultiWriter(crc, buf)
		}
		n, err := io.Copy(w, io.LimitReader(r, int64(f.UncompressedSize64)+1))
		if err != nil {
			return nil, fmt.Errorf("%w: entry %s: %v", ErrCorrupt, f.Name, err)
		}
		size := uint64(n)
		if size > f.UncompressedSize64 {
			return nil, fmt.Errorf("%w: entry %s inflates past the %d bytes its header declares", ErrZipBomb, f.Name, f.UncompressedSize64)
		}
		if size < f.UncompressedSize64 {
			return nil, fmt.Errorf("%w: entry %s is truncated (%d of %d bytes)", ErrCorrupt, f.Name, size, f.UncompressedSize64)
		}
		if crc.Sum32() != f.CRC32 {
			return nil, fmt.Errorf("%w: entry %s fails its checksum", ErrCorrupt, f.Name)
		}
		// Sizes are now actual, not declared: re-apply the limits to them.
		if err := checkRatio(f.Name, size, f.CompressedSize64); err != nil {
			return nil, err
		}
		if total += size; total > MaxUncompressedSize {
			return nil, fmt.Errorf("%w: the entries inflate to more than %d MiB (at %s)", ErrZipBomb, MaxUncompressedSize>>20, f.Name)
		}
		if buf != nil {
			contentTypes = buf.Bytes()
		}
	}
	return contentTypes, nil
}

// contentTypes is the part of [Content_Types].xml that names content types.
type contentTypes struct {
	Defaults []struct {
		Extension   string `xml:"Extension,attr"`
		ContentType string `xml:"ContentType,attr"`
	} `xml:"Default"`
	Overrides []struct {
		PartName    string `xml:"PartName,attr"`
		ContentType string `xml:"ContentType,attr"`
	} `xml:"Override"`
}

// checkContentTypes refuses macro-enabled packages by their declared content
// types: an .xlsm renamed to .xlsx still says macroEnabled here, and a VBA
// project stored under another name is still typed vbaProject. A default for an
// extension no entry has is only a declaration (excelize writes one for *.bin
// into every workbook): it is refused when an entry would take that type.
func checkContentTypes(data []byte, entries []*zip.File) error {
	var ct contentTypes
	if err := xml.Unmarshal(data, &ct); err != nil {
		return fmt.Errorf("%w: [Content_Types].xml is not valid XML: %v", ErrNotXLSX, err)
	}
	suspicious := func(t string) bool {
		t = strings.ToLower(t)
		return strings.Contains(t, "macroenabled") || strings.Contains(t, "vbaproject")
	}
	hasExt := func(ext string) bool {
		for _, e := range entries {
			if strings.HasSuffix(strings.ToLower(e.Name), "."+strings.ToLower(ext)) {
				return true
			}
		}
		return false
	}
	for _, d := range ct.Defaults {
		if suspicious(d.ContentType) && hasExt(d.Extension) {
			return fmt.Errorf("%w: content type %s for *.%s", ErrMacros, d.ContentType, d.Extension)
		}
	}
	for _, o := range ct.Overrides {
		if suspicious(o.ContentType) {
			return fmt.Errorf("%w: content type %s for %s", ErrMacros, o.ContentType, o.PartName)
		}
	}
	return nil
}

// usedRange scans a sheet's values row by row (the iterator does not hold the
// sheet in memory twice) for the bounding box of the non-empty ones.
func usedRange(f *excelize.File, sheet string) (string, error) {
	rows, err := f.Rows(sheet)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	minCol, minRow, maxCol, maxRow := 0, 0, 0, 0
	for row := 1; rows.Next(); row++ {
		cols, err := rows.Columns(excelize.Options{RawCellValue: true})
		if err != nil {
			return "", err
		}
		for i, v := range cols {
			if v == "" {
				continue
			}
			col := i + 1
			if minRow == 0 {
				minRow = row
			}
			maxRow = row
			if minCol == 0 || col < minCol {
				minCol = col
			}
			maxCol = max(maxCol, col)
		}
	}
	if err := rows.Error(); err != nil {
		return "", err
	}
	if minRow == 0 {
		return "", nil
	}
	from, _ := excelize.CoordinatesToCellName(minCol, minRow)
	to, _ := excelize.CoordinatesToCellName(maxCol, maxRow)
	return from + ":" + to, nil
}
