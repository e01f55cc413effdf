// Package channel is how a filing's files reach a regulator: the Channel
// interface the submission service drives, and its errors. The adapters live in
// the sub-packages: httpchan (the regulator's upload API: multipart upload with
// an idempotency key, a receipt, status polling), sftpchan (an SFTP directory),
// dirchan (a local directory). Both file-drop channels write under a temporary
// name and rename, so the regulator never sees half a file.
package channel

import (
	"context"
	"errors"
	"time"
)

// File is one file of a filing.
type File struct {
	Name    string // the file name to deliver, e.g. "corep-own-funds-2026-Q4-v1.xlsx"
	Format  string // xlsx, csv, json
	SHA256  string // hex SHA-256 of Content
	Content []byte
}

// Delivery is what is sent for one submission.
type Delivery struct {
	// SubmissionID identifies the submission and is its idempotency key: the same
	// key sent again must never make a second delivery.
	SubmissionID string
	FilingID     string
	Template     string
	Period       string
	// Amends is the receipt id of the original delivery when this is an amendment
	// (a restated filing); "" otherwise.
	Amends string
	Files  []File
}

// Receipt is the regulator's acknowledgement of a delivery.
type Receipt struct {
	ID         string    `json:"id"`          // the regulator's receipt id (or the delivered path for file drops)
	ReceivedAt time.Time `json:"received_at"` // when the regulator says it received it
}

// State is where a delivered submission stands at the regulator.
type State string

// States a channel reports.
const (
	StateReceived   State = "received"   // taken in, not yet looked at
	StateValidating State = "validating" // being checked
	StateAccepted   State = "accepted"   // final: accepted
	StateRejected   State = "rejected"   // final: rejected, see the feedback
	StateDelivered  State = "delivered"  // final for channels without regulator feedback (file drops)
)

// Final reports whether no later state can follow.
func (s State) Final() bool { return s == StateAccepted || s == StateRejected || s == StateDelivered }

// Feedback is one message of the regulator about a delivery.
type Feedback struct {
	Severity string `json:"severity"` // error, warning, info
	Code     string `json:"code"`
	Message  string `json:"message"`
}

// Status is the regulator's answer to a status poll.
type Status struct {
	State    State      `json:"state"`
	Feedback []Feedback `json:"feedback,omitempty"`
}

// Channel delivers filings to one regulator endpoint.
type Channel interface {
	// Name is the configured channel name.
	Name() string
	// Find returns the receipt of an earlier delivery made with this submission's
	// idempotency key (found false when there is none). The submitter asks it
	// before uploading again after a crash or a timeout, so that an upload the
	// regulator received is never repeated.
	Find(ctx context.Context, submissionID string) (r Receipt, found bool, err error)
	// Deliver uploads the files. An error wrapping ErrPermanent must not be
	// retried (refused credentials, a malformed delivery); any other error may be.
	Deliver(ctx context.Context, d Delivery) (Receipt, error)
	// Status polls where a delivery stands.
	Status(ctx context.Context, receiptID string) (Status, error)
}

// ErrPermanent marks failures a retry cannot fix.
var ErrPermanent = errors.New("permanent delivery failure")
