package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/ledgerline/ledgerline/services/ingest"
)

// client calls the Ledgerline API with a key, retrying what is safe to retry.
type client struct {
	base string
	key  string
	http *http.Client
}

func newClient(base, key string) *client {
	return &client{base: base, key: key, http: &http.Client{Timeout: 2 * time.Minute}}
}

// apiError is an error answer of the API.
type apiError struct {
	Status  int
	Code    string          `json:"code"`
	Message string          `json:"message"`
	Details json.RawMessage `json:"details"`
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s (HTTP %d, %s)", e.Message, e.Status, e.Code)
}

// do sends one request; 429, 503 and connection failures are retried with
// exponential backoff for up to a minute (every write of the API is idempotent).
func (c *client) do(ctx context.Context, method, path, contentType string, body []byte, out any) error {
	wait := 200 * time.Millisecond
	deadline := time.Now().Add(time.Minute)
	for {
		status, retryAfter, err := c.once(ctx, method, path, contentType, body, out)
		retryable := err != nil && (status == 0 || status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests)
		if !retryable || time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		if retryAfter > wait {
			wait = retryAfter
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(wait*2, 5*time.Second)
	}
}

func (c *client) once(ctx context.Context, method, path, contentType string, body []byte, out any) (int, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, 0, fmt.Errorf("cannot reach Ledgerline at %s (is `ledgerline serve` running? set --server): %w", c.base, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, 0, err
	}
	if resp.StatusCode >= 400 {
		var e struct{ Error apiError }
		if json.Unmarshal(b, &e) != nil || e.Error.Code == "" {
			e.Error = apiError{Code: "http_error", Message: string(b)}
		}
		e.Error.Status = resp.StatusCode
		ra, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		return resp.StatusCode, time.Duration(ra) * time.Second, &e.Error
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, 0, fmt.Errorf("answer of %s %s: %w", method, path, err)
		}
	}
	return resp.StatusCode, 0, nil
}

// pushBatch sends raw events as NDJSON and returns one result per event.
func (c *client) pushBatch(ctx context.Context, raws [][]byte) ([]ingest.Result, error) {
	var body bytes.Buffer
	for _, r := range raws {
		body.Write(r)
		body.WriteByte('\n')
	}
	var results []ingest.Result
	if err := c.do(ctx, http.MethodPost, "/v1/events", "application/x-ndjson", body.Bytes(), &results); err != nil {
		return nil, err
	}
	if len(results) != len(raws) {
		return nil, errors.New("the server answered a different number of results than events sent")
	}
	return results, nil
}
