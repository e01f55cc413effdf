package dirchan

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"time"

	"github.com/ledgerline/ledgerline/services/submission/channel"
)

// ManifestName is the name of the manifest every delivery folder holds. It is
// written last, so a folder with a manifest is complete.
const ManifestName = "manifest.json"

// Manifest describes one delivery folder.
type Manifest struct {
	SubmissionID string         `json:"submission_id"`
	FilingID     string         `json:"filing_id"`
	Template     string         `json:"template"`
	Period       string         `json:"period"`
	Amends       string         `json:"amends"`
	Files        []ManifestFile `json:"files"`
	DeliveredAt  time.Time      `json:"delivered_at"`
}

// ManifestFile is one file of a delivery folder.
type ManifestFile struct {
	Name   string `json:"name"`
	Format string `json:"format"`
	SHA256 string `json:"sha256"` // hex
	Size   int64  `json:"size"`
}

// FS is the file system a file-drop channel writes to. Names are slash
// separated and relative to the drop directory ("." is the directory itself).
// Errors for missing names must match fs.ErrNotExist (errors.Is).
type FS interface {
	Stat(name string) (fs.FileInfo, error)
	ReadFile(name string) ([]byte, error)
	// Mkdir creates a directory; it fails when name exists.
	Mkdir(name string) error
	// WriteFile creates name, which must not exist, writes data and makes it
	// durable (as far as the file system allows) before returning.
	WriteFile(name string, data []byte) error
	// SyncDir makes the entries of directory name durable; a no-op where the
	// file system offers no way to.
	SyncDir(name string) error
	// Rename renames oldname to newname atomically. It must fail when newname
	// exists and is not empty.
	Rename(oldname, newname string) error
	RemoveAll(name string) error
}

// Layout is the delivery layout shared by the file-drop channels (dirchan and
// sftpchan): one folder per delivery named after the submission id
// (FolderName), holding the files and ManifestName, written into a hidden
// PartialName folder first and renamed into place when complete, so a reader
// of the drop directory never sees half a delivery.
//
// Layout does no locking: the caller must not run Find or Deliver for the same
// submission concurrently on the same directory (Find removes a leftover
// partial folder, which could be another Deliver's work in progress).
type Layout struct {
	// Dir is the drop directory as named in receipts: a receipt id is
	// Dir + "/" + FolderName(submissionID).
	Dir string
	// Now is the clock for delivered_at; time.Now when nil.
	Now func() time.Time

	// beforeRename, when set, runs after the partial folder is complete and
	// before it is renamed into place (tests).
	beforeRename func(partial, final string) error
}

// maxFolderBase bounds the sanitized id part of a folder name, leaving room
// for the hash suffix and the partial folder's decoration within the common
// 255-byte name limit.
const maxFolderBase = 200

// FolderName is the name of the delivery folder of a submission: the id with
// every character outside [A-Za-z0-9._-] (and a leading '.') replaced by '_'.
// When anything had to be replaced (or the id is very long) a short hash of the
// id is appended, so different ids never share a folder. An empty id is an
// error wrapping channel.ErrPermanent.
func FolderName(submissionID string) (string, error) {
	if submissionID == "" {
		return "", fmt.Errorf("%w: empty submission id", channel.ErrPermanent)
	}
	var b strings.Builder
	changed := false
	for i := 0; i < len(submissionID); i++ {
		c := submissionID[i]
		ok := c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
			c == '-' || c == '_' || c == '.' && i > 0
		if ok {
			b.WriteByte(c)
		} else {
			b.WriteByte('_')
			changed = true
		}
	}
	name := b.String()
	if changed || len(name) > maxFolderBase {
		sum := sha256.Sum256([]byte(submissionID))
		if len(name) > maxFolderBase {
			name = name[:maxFolderBase]
		}
		name += "-" + hex.EncodeToString(sum[:6])
	}
	return name, nil
}

// PartialName is the name of the folder a delivery is written into before it
// is renamed to folder.
func PartialName(folder string) string { return "." + folder + ".partial" }

// CheckFileName refuses names that are not a plain file name: empty, "." or
// "..", containing a path separator or NUL, or the reserved ManifestName. The
// error wraps channel.ErrPermanent.
func CheckFileName(name string) error {
	switch {
	case name == "" || name == "." || name == "..":
		return fmt.Errorf("%w: invalid file name %q", channel.ErrPermanent, name)
	case strings.ContainsAny(name, "/\\\x00"):
		return fmt.Errorf("%w: file name %q contains a path separator", channel.ErrPermanent, name)
	case len(name) > 255:
		return fmt.Errorf("%w: file name %.40q... is too long", channel.ErrPermanent, name)
	case strings.EqualFold(name, ManifestName):
		return fmt.Errorf("%w: file name %q is reserved for the delivery manifest", channel.ErrPermanent, name)
	}
	return nil
}

// checkDelivery validates a delivery and returns its manifest entries.
func checkDelivery(d channel.Delivery) ([]ManifestFile, error) {
	if len(d.Files) == 0 {
		return nil, fmt.Errorf("%w: submission %s: a delivery without files", channel.ErrPermanent, d.SubmissionID)
	}
	seen := make(map[string]bool, len(d.Files))
	files := make([]ManifestFile, 0, len(d.Files))
	for _, f := range d.Files {
		if err := CheckFileName(f.Name); err != nil {
			return nil, fmt.Errorf("submission %s: %w", d.SubmissionID, err)
		}
		key := strings.ToLower(f.Name)
		if seen[key] {
			return nil, fmt.Errorf("%w: submission %s: file %q appears twice", channel.ErrPermanent, d.SubmissionID, f.Name)
		}
		seen[key] = true
		sum := sha256.Sum256(f.Content)
		hash := hex.EncodeToString(sum[:])
		if f.SHA256 != "" && !strings.EqualFold(f.SHA256, hash) {
			return nil, fmt.Errorf("%w: submission %s: file %q: SHA-256 %s does not match its content (%s)",
				channel.ErrPermanent, d.SubmissionID, f.Name, f.SHA256, hash)
		}
		files = append(files, ManifestFile{Name: f.Name, Format: f.Format, SHA256: hash, Size: int64(len(f.Content))})
	}
	return files, nil
}

func (l *Layout) receiptID(folder string) string { return path.Join(l.Dir, folder) }

func (l *Layout) now() time.Time {
	if l.Now != nil {
		return l.Now().UTC()
	}
	return time.Now().UTC()
}

// fsErr wraps an error of the file system: refused permissions are permanent
// (a retry will not grant them), anything else may be retried.
func fsErr(op, name string, err error) error {
	if errors.Is(err, fs.ErrPermission) && !errors.Is(err, channel.ErrPermanent) {
		return fmt.Errorf("%w: %s %s: %w", channel.ErrPermanent, op, name, err)
	}
	return fmt.Errorf("%s %s: %w", op, name, err)
}

// Find looks for the complete delivery of a submission. A leftover partial
// folder (a delivery interrupted by a crash) is removed and the submission
// reported not found, so it is delivered again. A delivery folder that exists
// but does not match its manifest (a file missing or changed, a folder of
// another submission) is an error wrapping channel.ErrPermanent: delivering
// again would make a second delivery, so that needs a human.
func (l *Layout) Find(ctx context.Context, fsys FS, submissionID string) (channel.Receipt, bool, error) {
	folder, err := FolderName(submissionID)
	if err != nil {
		return channel.Receipt{}, false, err
	}
	if err := ctx.Err(); err != nil {
		return channel.Receipt{}, false, err
	}
	partial := PartialName(folder)
	if _, err := fsys.Stat(partial); err == nil {
		if err := fsys.RemoveAll(partial); err != nil {
			return channel.Receipt{}, false, fsErr("remove interrupted delivery", partial, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return channel.Receipt{}, false, fsErr("stat", partial, err)
	}
	m, found, err := l.read(ctx, fsys, submissionID, folder)
	if err != nil || !found {
		return channel.Receipt{}, false, err
	}
	return channel.Receipt{ID: l.receiptID(folder), ReceivedAt: m.DeliveredAt}, true, nil
}

// read reads and verifies the delivery folder of a submission.
func (l *Layout) read(ctx context.Context, fsys FS, submissionID, folder string) (Manifest, bool, error) {
	id := l.receiptID(folder)
	fi, err := fsys.Stat(folder)
	if errors.Is(err, fs.ErrNotExist) {
		return Manifest{}, false, nil
	}
	if err != nil {
		return Manifest{}, false, fsErr("stat", id, err)
	}
	if !fi.IsDir() {
		return Manifest{}, false, fmt.Errorf("%w: delivery %s is not a folder", channel.ErrPermanent, id)
	}
	raw, err := fsys.ReadFile(folder + "/" + ManifestName)
	if errors.Is(err, fs.ErrNotExist) {
		return Manifest{}, false, fmt.Errorf("%w: delivery folder %s has no %s", channel.ErrPermanent, id, ManifestName)
	}
	if err != nil {
		return Manifest{}, false, fsErr("read", id+"/"+ManifestName, err)
	}
	var m Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return Manifest{}, false, fmt.Errorf("%w: delivery %s: bad %s: %v", channel.ErrPermanent, id, ManifestName, err)
	}
	if m.SubmissionID != submissionID {
		return Manifest{}, false, fmt.Errorf("%w: delivery folder %s belongs to submission %q, not %q",
			channel.ErrPermanent, id, m.SubmissionID, submissionID)
	}
	for _, f := range m.Files {
		if err := ctx.Err(); err != nil {
			return Manifest{}, false, err
		}
		if err := CheckFileName(f.Name); err != nil {
			return Manifest{}, false, fmt.Errorf("delivery %s: manifest: %w", id, err)
		}
		content, err := fsys.ReadFile(folder + "/" + f.Name)
		if errors.Is(err, fs.ErrNotExist) {
			return Manifest{}, false, fmt.Errorf("%w: delivery %s: file %s of the manifest is missing", channel.ErrPermanent, id, f.Name)
		}
		if err != nil {
			return Manifest{}, false, fsErr("read", id+"/"+f.Name, err)
		}
		sum := sha256.Sum256(content)
		if hash := hex.EncodeToString(sum[:]); !strings.EqualFold(hash, f.SHA256) || int64(len(content)) != f.Size {
			return Manifest{}, false, fmt.Errorf("%w: delivery %s: file %s does not match the manifest (SHA-256 %s, %d bytes; manifest %s, %d bytes)",
				channel.ErrPermanent, id, f.Name, hash, len(content), f.SHA256, f.Size)
		}
	}
	return m, true, nil
}

// Deliver writes a delivery: when the submission was delivered already it
// returns the existing receipt and writes nothing; otherwise it writes the
// files and then the manifest into the partial folder, syncs it and renames it
// into place.
func (l *Layout) Deliver(ctx context.Context, fsys FS, d channel.Delivery) (channel.Receipt, error) {
	folder, err := FolderName(d.SubmissionID)
	if err != nil {
		return channel.Receipt{}, err
	}
	files, err := checkDelivery(d)
	if err != nil {
		return channel.Receipt{}, err
	}
	if r, found, err := l.Find(ctx, fsys, d.SubmissionID); err != nil || found {
		return r, err
	}
	partial := PartialName(folder)
	if err := fsys.Mkdir(partial); err != nil {
		return channel.Receipt{}, fsErr("mkdir", partial, err)
	}
	for i, f := range d.Files {
		if err := ctx.Err(); err != nil {
			return channel.Receipt{}, err
		}
		if err := fsys.WriteFile(partial+"/"+files[i].Name, f.Content); err != nil {
			return channel.Receipt{}, fsErr("write", partial+"/"+f.Name, err)
		}
	}
	m := Manifest{
		SubmissionID: d.SubmissionID,
		FilingID:     d.FilingID,
		Template:     d.Template,
		Period:       d.Period,
		Amends:       d.Amends,
		Files:        files,
		DeliveredAt:  l.now(),
	}
	raw, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return channel.Receipt{}, err
	}
	raw = append(raw, '\n')
	if err := ctx.Err(); err != nil {
		return channel.Receipt{}, err
	}
	if err := fsys.WriteFile(partial+"/"+ManifestName, raw); err != nil {
		return channel.Receipt{}, fsErr("write", partial+"/"+ManifestName, err)
	}
	if err := fsys.SyncDir(partial); err != nil {
		return channel.Receipt{}, fsErr("sync", partial, err)
	}
	if l.beforeRename != nil {
		if err := l.beforeRename(partial, folder); err != nil {
			return channel.Receipt{}, err
		}
	}
	if err := ctx.Err(); err != nil {
		return channel.Receipt{}, err
	}
	if err := fsys.Rename(partial, folder); err != nil {
		// Someone else may have delivered the same submission meanwhile.
		if _, statErr := fsys.Stat(folder); statErr == nil {
			_ = fsys.RemoveAll(partial)
			m, found, err := l.read(ctx, fsys, d.SubmissionID, folder)
			if err != nil {
				return channel.Receipt{}, err
			}
			if found {
				return channel.Receipt{ID: l.receiptID(folder), ReceivedAt: m.DeliveredAt}, nil
			}
		}
		return channel.Receipt{}, fsErr("rename", partial+" to "+folder, err)
	}
	if err := fsys.SyncDir("."); err != nil {
		// The rename may not be durable yet; a retry finds the delivery.
		return channel.Receipt{}, fsErr("sync", l.Dir, err)
	}
	return channel.Receipt{ID: l.receiptID(folder), ReceivedAt: m.DeliveredAt}, nil
}

// Status reports channel.StateDelivered for a receipt whose delivery folder
// exists. A receipt that is not of this drop directory, or whose folder is
// gone, is an error wrapping channel.ErrPermanent.
func (l *Layout) Status(ctx context.Context, fsys FS, receiptID string) (channel.Status, error) {
	dir, folder := path.Split(receiptID)
	if folder == "" || strings.HasPrefix(folder, ".") || path.Clean(dir) != path.Clean(l.Dir) {
		return channel.Status{}, fmt.Errorf("%w: receipt %q is not a delivery in %s", channel.ErrPermanent, receiptID, l.Dir)
	}
	if err := ctx.Err(); err != nil {
		return channel.Status{}, err
	}
	fi, err := fsys.Stat(folder)
	if errors.Is(err, fs.ErrNotExist) {
		return channel.Status{}, fmt.Errorf("%w: no delivery at %s", channel.ErrPermanent, receiptID)
	}
	if err != nil {
		return channel.Status{}, fsErr("stat", receiptID, err)
	}
	if !fi.IsDir() {
		return channel.Status{}, fmt.Errorf("%w: delivery %s is not a folder", channel.ErrPermanent, receiptID)
	}
	return channel.Status{State: channel.StateDelivered}, nil
}
