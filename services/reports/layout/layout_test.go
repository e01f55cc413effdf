package layout

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

// workbook builds a real .xlsx with excelize: the given sheets, each with a value
// in D8 so it has a dimension.
func workbook(t *testing.T, sheets ...string) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	for i, name := range sheets {
		if i == 0 {
			if err := f.SetSheetName("Sheet1", name); err != nil {
				t.Fatal(err)
			}
		} else if _, err := f.NewSheet(name); err != nil {
			t.Fatal(err)
		}
		if err := f.SetCellValue(name, "B2", "header"); err != nil {
			t.Fatal(err)
		}
		if err := f.SetCellValue(name, "D8", 1); err != nil {
			t.Fatal(err)
		}
	}
	buf, err := f.WriteToBuffer()
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type entry struct {
	name string
	data []byte
}

// rezip copies the entries of src into a new archive, passing each through edit
// (return nil to drop the entry), then appends extra.
func rezip(t *testing.T, src []byte, edit func(name string, data []byte) []byte, extra ...entry) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(src), int64(len(src)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	write := func(name string, data []byte) {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if edit != nil {
			data = edit(f.Name, data)
		}
		if data != nil {
			write(f.Name, data)
		}
	}
	for _, e := range extra {
		write(e.name, e.data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// deflated compresses data once so tests can store it many times with CreateRaw
// (and can lie about its size) without paying for compression each time.
func deflated(t *testing.T, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := flate.NewWriter(&buf, flate.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// withRaw appends pre-compressed entries to a real workbook, with the headers
// given (sizes and CRC as the caller chooses: true or lying).
func withRaw(t *testing.T, src []byte, raws []rawEntry) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(src), int64(len(src)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, f := range zr.File {
		if err := zw.Copy(f); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range raws {
		w, err := zw.CreateRaw(&zip.FileHeader{
			Name:               r.name,
			Method:             zip.Deflate,
			CRC32:              r.crc,
			CompressedSize64:   uint64(len(r.compressed)),
			UncompressedSize64: r.size,
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(r.compressed); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

type rawEntry struct {
	name       string
	compressed []byte
	crc        uint32
	size       uint64
}

func TestCheckAcceptsRealWorkbook(t *testing.T) {
	info, err := Check(workbook(t, "C 01.00", "C 02.00"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(info.SheetNames(), "|"); got != "C 01.00|C 02.00" {
		t.Errorf("sheets = %q, want C 01.00|C 02.00", got)
	}
	for _, s := range info.Sheets {
		if s.Used != "B2:D8" {
			t.Errorf("sheet %q used range = %q, want B2:D8", s.Name, s.Used)
		}
	}
	if !info.HasSheet("C 01.00") || !info.HasSheet("C 02.00") {
		t.Error("HasSheet is false for a sheet the workbook has")
	}
	if info.HasSheet("c 01.00") || info.HasSheet("C 03.00") {
		t.Error("HasSheet is true for a sheet the workbook lacks (names are exact)")
	}
	if info.Entries < 5 || info.UncompressedSize <= 0 {
		t.Errorf("entries = %d, uncompressed = %d: not filled in", info.Entries, info.UncompressedSize)
	}
}

func TestCheckAcceptsPrinterSettings(t *testing.T) {
	// Excel writes printer settings as .bin into any workbook with a page
	// setup; they carry no code and must not be mistaken for macros.
	data := rezip(t, workbook(t, "C 01.00"), nil,
		entry{"xl/printerSettings/printerSettings1.bin", []byte{0x01, 0x02, 0x03}})
	if _, err := Check(data); err != nil {
		t.Fatalf("printer settings refused: %v", err)
	}
}

func TestCheckRefuses(t *testing.T) {
	real := workbook(t, "C 01.00")
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 4096)
	for i := range random {
		random[i] = byte(rng.UintN(256))
	}
	ole := append(append([]byte{}, oleMagic...), make([]byte, 504)...)

	cases := []struct {
		name    string
		data    []byte
		is      error
		message string // a substring the message must contain
	}{
		{"random bytes", random, ErrNotZip, "layout is not an XLSX workbook (not a zip archive)"},
		{"empty input", nil, ErrNotZip, "not a zip archive"},
		{"text", []byte("id,value\nr0010,12\n"), ErrNotZip, "not a zip archive"},
		{"truncated zip", real[:len(real)/2], ErrCorrupt, "corrupt zip archive"},
		{"OLE header", ole, ErrEncrypted, "password-protected or legacy .xls files are not supported"},
		{"too large", append([]byte("PK\x03\x04"), make([]byte, MaxInputSize)...), ErrTooLarge, "limit is 20 MiB"},
		{"VBA project", rezip(t, real, nil, entry{"xl/vbaProject.bin", []byte("VBA")}), ErrMacros, "xl/vbaProject.bin"},
		{"VBA project, odd case", rezip(t, real, nil, entry{"xl/VbaProject.BIN", []byte("VBA")}), ErrMacros, "xl/VbaProject.BIN"},
		{"ActiveX binary", rezip(t, real, nil, entry{"xl/activeX/activeX1.bin", []byte{0}}), ErrMacros, "xl/activeX/activeX1.bin"},
		{"OLE embedding", rezip(t, real, nil, entry{"xl/embeddings/oleObject1.bin", []byte{0}}), ErrMacros, "xl/embeddings/oleObject1.bin"},
		{"macro-enabled content type (xlsm renamed)", rezip(t, real, func(name string, data []byte) []byte {
			if name != "[Content_Types].xml" {
				return data
			}
			return bytes.Replace(data,
				[]byte("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"),
				[]byte("application/vnd.ms-excel.sheet.macroEnabled.main+xml"), 1)
		}), ErrMacros, "application/vnd.ms-excel.sheet.macroEnabled.main+xml for /xl/workbook.xml"},
		{"vbaProject content type under another name", rezip(t, real, func(name string, data []byte) []byte {
			if name != "[Content_Types].xml" {
				return data
			}
			return bytes.Replace(data, []byte("</Types>"),
				[]byte(`<Default Extension="dat" ContentType="application/vnd.ms-office.vbaProject"/></Types>`), 1)
		}, entry{"xl/project.dat", []byte("Attribute VB_Name")}), ErrMacros, "application/vnd.ms-office.vbaProject for *.dat"},
		{"no workbook.xml", rezip(t, real, func(name string, data []byte) []byte {
			if name == "xl/workbook.xml" {
				return nil
			}
			return data
		}), ErrNotXLSX, "no xl/workbook.xml"},
		{"no content types", rezip(t, real, func(name string, data []byte) []byte {
			if name == "[Content_Types].xml" {
				return nil
			}
			return data
		}), ErrNotXLSX, "no [Content_Types].xml"},
		{"a zip of something else", zipOf(t, entry{"[Content_Types].xml", []byte("<Types/>")}, entry{"readme.txt", []byte("hi")}), ErrNotXLSX, "no xl/workbook.xml"},
		{"broken workbook XML", rezip(t, real, func(name string, data []byte) []byte {
			if name == "xl/workbook.xml" {
				return []byte(`<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheets><sheet name=`)
			}
			return data
		}), ErrNotXLSX, "excelize cannot open it"},
		{"broken worksheet XML", rezip(t, real, func(name string, data []byte) []byte {
			if name == "xl/worksheets/sheet1.xml" {
				return []byte(`<worksheet><sheetData><row r="1"><c r="A1"><v>1</v></c>`)
			}
			return data
		}), ErrNotXLSX, `sheet "C 01.00" cannot be read`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			info, err := Check(c.data)
			if err == nil {
				t.Fatalf("accepted, info = %+v", info)
			}
			if !errors.Is(err, c.is) {
				t.Errorf("error %q is not %q", err, c.is)
			}
			if !strings.Contains(err.Error(), c.message) {
				t.Errorf("error %q does not say %q", err, c.message)
			}
		})
	}
}

func zipOf(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, e := range entries {
		w, err := zw.Create(e.name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestCheckRefusesZipBomb: 200 MiB of zeros, written streaming through
// archive/zip, is a ~250 KiB upload.
func TestCheckRefusesZipBomb(t *testing.T) {
	real := workbook(t, "C 01.00")
	zr, err := zip.NewReader(bytes.NewReader(real), int64(len(real)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	// The fastest level keeps the test well under a second.
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(w, flate.BestSpeed)
	})
	for _, f := range zr.File {
		if err := zw.Copy(f); err != nil {
			t.Fatal(err)
		}
	}
	w, err := zw.Create("xl/worksheets/sheet2.xml")
	if err != nil {
		t.Fatal(err)
	}
	zeros := make([]byte, 1<<20)
	for range 200 {
		if _, err := w.Write(zeros); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if out.Len() > MaxInputSize/10 {
		t.Fatalf("the bomb is %d bytes: not a bomb", out.Len())
	}

	_, err = Check(out.Bytes())
	if !errors.Is(err, ErrZipBomb) {
		t.Fatalf("error = %v, want ErrZipBomb", err)
	}
	if !strings.Contains(err.Error(), "xl/worksheets/sheet2.xml") || !strings.Contains(err.Error(), "over 100:1") {
		t.Errorf("error %q does not name the entry and the ratio", err)
	}
}

func TestCheckZipLimits(t *testing.T) {
	real := workbook(t, "C 01.00")
	mib := make([]byte, 1<<20)
	mibZ, mibCRC := deflated(t, mib), crc32.ChecksumIEEE(mib)
	twoMiB := make([]byte, 2<<20)
	twoMiBZ, twoMiBCRC := deflated(t, twoMiB), crc32.ChecksumIEEE(twoMiB)

	t.Run("total uncompressed size", func(t *testing.T) {
		// 101 entries of exactly 1 MiB: none is over the ratio floor, the sum is
		// over 100 MiB.
		var raws []rawEntry
		for i := range 101 {
			raws = append(raws, rawEntry{name: fmt.Sprintf("xl/media/zeros%d.xml", i), compressed: mibZ, crc: mibCRC, size: 1 << 20})
		}
		_, err := Check(withRaw(t, real, raws))
		if !errors.Is(err, ErrZipBomb) || !strings.Contains(err.Error(), "more than 100 MiB uncompressed") {
			t.Fatalf("error = %v, want the total-size refusal", err)
		}
	})
	t.Run("100 MiB is still fine", func(t *testing.T) {
		// 90 entries of 1 MiB plus the workbook: under the total limit, each
		// at the ratio floor. Proves the limits are not off by one the strict way.
		var raws []rawEntry
		for i := range 90 {
			raws = append(raws, rawEntry{name: fmt.Sprintf("xl/media/zeros%d.xml", i), compressed: mibZ, crc: mibCRC, size: 1 << 20})
		}
		if _, err := Check(withRaw(t, real, raws)); err != nil {
			t.Fatalf("refused: %v", err)
		}
	})
	t.Run("compression ratio", func(t *testing.T) {
		_, err := Check(withRaw(t, real, []rawEntry{{name: "xl/worksheets/sheet9.xml", compressed: twoMiBZ, crc: twoMiBCRC, size: 2 << 20}}))
		if !errors.Is(err, ErrZipBomb) || !strings.Contains(err.Error(), "entry xl/worksheets/sheet9.xml inflates") {
			t.Fatalf("error = %v, want the ratio refusal", err)
		}
	})
	t.Run("header lies about the size", func(t *testing.T) {
		// The directory claims 1000 bytes (so no ratio or total check can
		// fire); the data inflates to 2 MiB.
		_, err := Check(withRaw(t, real, []rawEntry{{name: "xl/worksheets/sheet9.xml", compressed: twoMiBZ, crc: twoMiBCRC, size: 1000}}))
		if !errors.Is(err, ErrZipBomb) || !strings.Contains(err.Error(), "inflates past the 1000 bytes its header declares") {
			t.Fatalf("error = %v, want the lying-header refusal", err)
		}
	})
	t.Run("header claims more than there is", func(t *testing.T) {
		_, err := Check(withRaw(t, real, []rawEntry{{name: "xl/worksheets/sheet9.xml", compressed: deflated(t, []byte("<worksheet/>")), crc: 0, size: 50}}))
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "truncated (12 of 50 bytes)") {
			t.Fatalf("error = %v, want truncated", err)
		}
	})
	t.Run("bad checksum", func(t *testing.T) {
		body := []byte("<worksheet/>")
		_, err := Check(withRaw(t, real, []rawEntry{{name: "xl/worksheets/sheet9.xml", compressed: deflated(t, body), crc: crc32.ChecksumIEEE(body) + 1, size: uint64(len(body))}}))
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "entry xl/worksheets/sheet9.xml fails its checksum") {
			t.Fatalf("error = %v, want checksum", err)
		}
	})
	t.Run("too many entries", func(t *testing.T) {
		var out bytes.Buffer
		zw := zip.NewWriter(&out)
		for i := range MaxEntries + 1 {
			if _, err := zw.CreateHeader(&zip.FileHeader{Name: "xl/e" + strconv.Itoa(i), Method: zip.Store}); err != nil {
				t.Fatal(err)
			}
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		_, err := Check(out.Bytes())
		if !errors.Is(err, ErrZipBomb) || !strings.Contains(err.Error(), "10001 entries, the limit is 10000") {
			t.Fatalf("error = %v, want the entry-count refusal", err)
		}
	})
}

func TestValidCell(t *testing.T) {
	for _, ref := range []string{"A1", "D8", "XFD1048576", "$D$8", "b20"} {
		if err := ValidCell(ref); err != nil {
			t.Errorf("ValidCell(%q) = %v, want nil", ref, err)
		}
	}
	for _, ref := range []string{"", "D", "8", "8D", "A0", "D8:E9", "XFE1", "A1048577", "R1C1", "D-8"} {
		err := ValidCell(ref)
		if err == nil {
			t.Errorf("ValidCell(%q) = nil, want an error", ref)
			continue
		}
		if want := `invalid cell reference "` + ref + `"`; !strings.Contains(err.Error(), want) {
			t.Errorf("ValidCell(%q) = %q, does not name the reference", ref, err)
		}
	}
}

// TestCheckAcceptsAnUnusedBinDefault: excelize (SaveAs) declares a default
// content type for *.bin in every workbook; with no .bin entry it is only a
// declaration, not a macro.
func TestCheckAcceptsAnUnusedBinDefault(t *testing.T) {
	real := workbook(t, "C 01.00")
	data := rezip(t, real, func(name string, data []byte) []byte {
		if name != "[Content_Types].xml" {
			return data
		}
		return bytes.Replace(data, []byte("</Types>"),
			[]byte(`<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/></Types>`), 1)
	})
	if _, err := Check(data); err != nil {
		t.Fatalf("refused: %v", err)
	}
}
