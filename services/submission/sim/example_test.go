package sim_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ledgerline/ledgerline/services/submission/channel"
	"github.com/ledgerline/ledgerline/services/submission/channel/httpchan"
	"github.com/ledgerline/ledgerline/services/submission/sim"
)

// Deliver a filing to the simulator through the http channel, through one
// injected outage, and poll it to its decision.
func Example() {
	s := sim.New(sim.Config{
		Token:         "demo-token",
		ValidateAfter: 10 * time.Millisecond,
		DecideAfter:   20 * time.Millisecond,
		Logger:        slog.New(slog.DiscardHandler),
	})
	url, stop, err := s.Start("127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer stop()

	ch, err := httpchan.New(httpchan.Config{Name: "regulator-sim", URL: url, Token: "demo-token"})
	if err != nil {
		panic(err)
	}
	content := []byte(`{"template":"finrep","version":1,"period":"2026-10","as_of_seq":42,"currency":"EUR",
		"cells":{"r0010":"1500.00"},"tables":{},"validations":[]}`)
	sum := sha256.Sum256(content)
	d := channel.Delivery{
		SubmissionID: "sub-0001",
		FilingID:     "filing-0001",
		Template:     "finrep",
		Period:       "2026-10",
		Files:        []channel.File{{Name: "finrep-2026-10-v1.json", Format: "json", SHA256: hex.EncodeToString(sum[:]), Content: content}},
	}
	ctx := context.Background()

	s.Inject(sim.Fault5xx, 1)
	_, err = ch.Deliver(ctx, d)
	fmt.Println("first attempt fails, retryable:", err != nil && !errors.Is(err, channel.ErrPermanent))

	receipt, err := ch.Deliver(ctx, d)
	if err != nil {
		panic(err)
	}
	var st channel.Status
	for !st.State.Final() {
		time.Sleep(5 * time.Millisecond)
		if st, err = ch.Status(ctx, receipt.ID); err != nil {
			panic(err)
		}
	}
	fmt.Println("state:", st.State)
	fmt.Println("deliveries:", s.Deliveries()["sub-0001"], "attempts:", s.Attempts()["sub-0001"])
	// Output:
	// first attempt fails, retryable: true
	// state: accepted
	// deliveries: 1 attempts: 2
}
