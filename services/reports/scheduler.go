package reports

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ledgerline/ledgerline/platform/auth"
	"github.com/ledgerline/ledgerline/services/reports/schedule"
	"github.com/ledgerline/ledgerline/services/reports/store"
	"github.com/ledgerline/ledgerline/services/reports/template"
)

// schedulerActor is who scheduled filings are made by, in the audit log.
var schedulerActor = auth.Principal{KeyID: 0, Name: "scheduler"}

// claimStale is how long a claimed run may stay unfinished before another
// instance takes it over (its claimer died mid-run).
const claimStale = 10 * time.Minute

// RunScheduler makes each active template's scheduled filings until ctx ends:
// every tick it looks for every run due since the later of the active version's
// approval and the last run that made its filing — so runs missed while no
// instance was up are caught up at start — and files the period that had just
// ended at each. Any
// number of instances may run it: the (template, period) claim in PostgreSQL
// lets exactly one of them make each filing.
func (s *Service) RunScheduler(ctx context.Context) {
	if s.cfg.SchedulerTick <= 0 {
		return
	}
	for {
		if err := s.ScheduleOnce(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("scheduler pass failed; retrying at the next tick", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(s.cfg.SchedulerTick):
		}
	}
}

// ScheduleOnce runs one scheduler pass.
func (s *Service) ScheduleOnce(ctx context.Context) error {
	active, err := s.store.ActiveTemplates(ctx)
	if err != nil {
		return err
	}
	now := s.now()
	for _, st := range active {
		if err := s.scheduleTemplate(ctx, st, now); err != nil {
			s.log.Warn("scheduled filing failed", "template", st.ID, "err", err)
		}
	}
	return nil
}

func (s *Service) scheduleTemplate(ctx context.Context, st store.Template, now time.Time) error {
	t, err := s.parse(st)
	if err != nil || t.Schedule == "" {
		return err
	}
	loc, err := time.LoadLocation(t.Timezone)
	if err != nil {
		return err
	}
	// Every run since the later of the approval and the last run that made its
	// filing: the claims skip those made or being made, and a failed or
	// abandoned one is taken again once its claim is stale.
	since := *st.ApprovedAt
	if last, ok, err := s.store.LastFinishedRun(ctx, st.ID); err != nil {
		return err
	} else if ok && last.DueAt.After(since) {
		since = last.DueAt
	}
	due, err := schedule.Missed(t.Schedule, loc, since, now)
	if errors.Is(err, schedule.ErrTooManyMissed) {
		s.log.Warn("more scheduled runs are due than one pass takes; the rest follow at the next passes", "template", st.ID, "runs", len(due))
	} else if err != nil {
		return err
	}
	for _, at := range due {
		p := schedule.PeriodBefore(t.Frequency, at, loc)
		mine, err := s.store.Claim(ctx, st.ID, p, at, s.cfg.Instance, claimStale)
		if err != nil {
			return err
		}
		if !mine {
			continue
		}
		s.log.Info("scheduled filing due", "template", st.ID, "period", p, "due_at", at)
		f, _, err := s.File(ctx, FileRequest{Template: st.ID, Period: p}, schedulerActor)
		if ferr := s.store.Finish(ctx, st.ID, p, f.ID, err); ferr != nil {
			return ferr
		}
		if err != nil {
			return fmt.Errorf("period %s: %w", p, err)
		}
		s.autoSubmit(ctx, t, f)
	}
	return nil
}

// autoSubmit submits a scheduled filing when its template asks for it and the
// filing is submittable; a blocked one waits for an operator.
func (s *Service) autoSubmit(ctx context.Context, t *template.Template, f store.Filing) {
	s.mu.Lock()
	sub := s.submitter
	s.mu.Unlock()
	if sub == nil || t.Submission == nil || !t.Submission.Auto {
		return
	}
	if !f.Submittable {
		s.log.Warn("scheduled filing not submitted automatically: it is "+f.Status, "filing_id", f.ID)
		return
	}
	if err := sub.Submit(ctx, f.ID, schedulerActor); err != nil {
		s.log.Warn("automatic submission failed", "filing_id", f.ID, "err", err)
	}
}

// Upcoming is a template's schedule: its next runs and what it last did.
type Upcoming struct {
	Template string      `json:"template"`
	Version  int         `json:"version"`
	Schedule string      `json:"schedule"`
	Timezone string      `json:"timezone"`
	Next     []NextRun   `json:"next"`
	LastRun  *store.Run  `json:"last_run,omitempty"`
	Runs     []store.Run `json:"-"`
}

// NextRun is a coming run and the period it will file.
type NextRun struct {
	At     time.Time `json:"at"`
	Period string    `json:"period"`
}

// Schedule lists every active template's next n runs.
func (s *Service) Schedule(ctx context.Context, n int) ([]Upcoming, error) {
	active, err := s.store.ActiveTemplates(ctx)
	if err != nil {
		return nil, err
	}
	out := []Upcoming{}
	now := s.now()
	for _, st := range active {
		t, err := s.parse(st)
		if err != nil {
			return nil, err
		}
		if t.Schedule == "" {
			continue
		}
		loc, err := time.LoadLocation(t.Timezone)
		if err != nil {
			return nil, err
		}
		next, err := schedule.Next(t.Schedule, loc, now, n)
		if err != nil {
			return nil, err
		}
		u := Upcoming{Template: st.ID, Version: st.Version, Schedule: t.Schedule, Timezone: t.Timezone, Next: []NextRun{}}
		for _, at := range next {
			u.Next = append(u.Next, NextRun{At: at, Period: schedule.PeriodBefore(t.Frequency, at, loc)})
		}
		if last, ok, err := s.store.LastRun(ctx, st.ID); err != nil {
			return nil, err
		} else if ok {
			u.LastRun = &last
		}
		out = append(out, u)
	}
	return out, nil
}
