package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/callout/callout"
)

func notFoundEndpoint(manufacturerID, id string) error {
	return callout.NotFound(fmt.Sprintf("endpoint %s of manufacturer %s", id, manufacturerID))
}

// endpointColumns are the columns scanEndpoint receives.
const endpointColumns = `id, url, description, events, auth_type, auth0_tenant_domain, auth0_client_id,
	auth0_audience, format, timeout_ms, max_attempts, rate_limit, enabled, disabled_reason, failing_since,
	bearer_token, auth0_client_secret, signing_secret, created_at, updated_at`

// PutEndpoint stores e, creating it or replacing the endpoint of its id, and
// sets its CreatedAt and UpdatedAt. Its secrets are sealed before they reach
// the database, bound to the manufacturer and endpoint.
func (s *Store) PutEndpoint(ctx context.Context, e *callout.Endpoint) error {
	err := s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error { return s.putEndpoint(ctx, tx, e) })
	if isForeignKeyViolation(err) {
		return notFoundManufacturer(e.ManufacturerID)
	}
	if err != nil {
		return fmt.Errorf("putting endpoint %s of manufacturer %s: %w", e.ID, e.ManufacturerID, err)
	}
	return nil
}

func (s *Store) putEndpoint(ctx context.Context, tx *sql.Tx, e *callout.Endpoint) error {
	w := e.AsWebhook()
	bearer, err := s.seal(w, fieldBearerToken, e.Auth.BearerToken)
	if err != nil {
		return err
	}
	clientSecret, err := s.seal(w, fieldClientSecret, e.Auth.Auth0.ClientSecret)
	if err != nil {
		return err
	}
	signing, err := s.seal(w, fieldSigningSecret, e.SigningSecret)
	if err != nil {
		return err
	}
	filters, err := json.Marshal(append([]string{}, e.Events...))
	if err != nil {
		return err
	}
	now := micros(s.now())
	var failing sql.NullInt64
	if e.FailingSince != nil {
		failing = sql.NullInt64{Int64: micros(*e.FailingSince), Valid: true}
	}
	a := e.Auth.Auth0
	var created int64
	if err := s.queryRow(ctx, tx, `INSERT INTO endpoints (manufacturer_id, id, url, description, events, auth_type,
			auth0_tenant_domain, auth0_client_id, auth0_audience, format, timeout_ms, max_attempts, rate_limit,
			enabled, disabled_reason, failing_since, bearer_token, auth0_client_secret, signing_secret, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (manufacturer_id, id) DO UPDATE SET
			url = excluded.url, description = excluded.description, events = excluded.events,
			auth_type = excluded.auth_type, auth0_tenant_domain = excluded.auth0_tenant_domain,
			auth0_client_id = excluded.auth0_client_id, auth0_audience = excluded.auth0_audience,
			format = excluded.format, timeout_ms = excluded.timeout_ms, max_attempts = excluded.max_attempts,
			rate_limit = excluded.rate_limit, enabled = excluded.enabled, disabled_reason = excluded.disabled_reason,
			failing_since = excluded.failing_since, bearer_token = excluded.bearer_token,
			auth0_client_secret = excluded.auth0_client_secret, signing_secret = excluded.signing_secret,
			updated_at = excluded.updated_at
		RETURNING created_at`,
		e.ManufacturerID, e.ID, e.URL, cleanText(e.Description), string(filters), string(e.Auth.Type),
		a.TenantDomain, a.ClientID, a.Audience, string(e.Format), e.TimeoutMS, e.MaxAttempts, e.RateLimitPerSecond,
		e.Enabled, cleanText(e.DisabledReason), failing, bearer, clientSecret, signing, now, now).Scan(&created); err != nil {
		return err
	}
	e.CreatedAt, e.UpdatedAt = fromMicros(created), fromMicros(now)
	return nil
}

// scanEndpoint reads a row of endpointColumns and opens its secrets.
func (s *Store) scanEndpoint(row interface{ Scan(...any) error }, manufacturerID string) (*callout.Endpoint, error) {
	e := &callout.Endpoint{ManufacturerID: manufacturerID}
	var (
		filters, authType, format string
		failing                   sql.NullInt64
		bearer, clientSecret, sig []byte
		created, updated          int64
	)
	a := &e.Auth.Auth0
	if err := row.Scan(&e.ID, &e.URL, &e.Description, &filters, &authType, &a.TenantDomain, &a.ClientID,
		&a.Audience, &format, &e.TimeoutMS, &e.MaxAttempts, &e.RateLimitPerSecond, &e.Enabled, &e.DisabledReason,
		&failing, &bearer, &clientSecret, &sig, &created, &updated); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(filters), &e.Events); err != nil {
		return nil, fmt.Errorf("endpoint %s: decoding its event filters: %w", e.ID, err)
	}
	if len(e.Events) == 0 {
		e.Events = nil
	}
	e.Auth.Type, e.Format = callout.AuthType(authType), callout.EndpointFormat(format)
	e.FailingSince = nullMicros(failing)
	e.CreatedAt, e.UpdatedAt = fromMicros(created), fromMicros(updated)
	w := e.AsWebhook()
	var err error
	if e.Auth.BearerToken, err = s.open(w, fieldBearerToken, bearer); err != nil {
		return nil, err
	}
	if a.ClientSecret, err = s.open(w, fieldClientSecret, clientSecret); err != nil {
		return nil, err
	}
	if e.SigningSecret, err = s.open(w, fieldSigningSecret, sig); err != nil {
		return nil, err
	}
	return e, nil
}

// GetEndpoint returns the endpoint with its secrets opened, or a not_found
// error.
func (s *Store) GetEndpoint(ctx context.Context, manufacturerID, id string) (*callout.Endpoint, error) {
	e, err := s.scanEndpoint(s.queryRow(ctx, s.db, `SELECT `+endpointColumns+` FROM endpoints
		WHERE manufacturer_id = ? AND id = ?`, manufacturerID, id), manufacturerID)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, notFoundEndpoint(manufacturerID, id)
	case err != nil:
		return nil, fmt.Errorf("reading endpoint %s of manufacturer %s: %w", id, manufacturerID, err)
	}
	return e, nil
}

// ListEndpoints returns the manufacturer's endpoints, oldest first.
func (s *Store) ListEndpoints(ctx context.Context, manufacturerID string) ([]*callout.Endpoint, error) {
	return s.listEndpoints(ctx, s.db, manufacturerID)
}

func (s *Store) listEndpoints(ctx context.Context, q querier, manufacturerID string) ([]*callout.Endpoint, error) {
	rows, err := s.query(ctx, q, `SELECT `+endpointColumns+` FROM endpoints WHERE manufacturer_id = ?
		ORDER BY created_at, id`, manufacturerID)
	if err != nil {
		return nil, fmt.Errorf("listing endpoints of manufacturer %s: %w", manufacturerID, err)
	}
	defer rows.Close()
	var out []*callout.Endpoint
	for rows.Next() {
		e, err := s.scanEndpoint(rows, manufacturerID)
		if err != nil {
			return nil, fmt.Errorf("listing endpoints of manufacturer %s: %w", manufacturerID, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing endpoints of manufacturer %s: %w", manufacturerID, err)
	}
	return out, nil
}

// DeleteEndpoint removes an endpoint and cancels its pending messages, or
// returns a not_found error.
func (s *Store) DeleteEndpoint(ctx context.Context, manufacturerID, id string) error {
	err := s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		return s.deleteEndpoint(ctx, tx, manufacturerID, id)
	})
	if err != nil {
		return fmt.Errorf("deleting endpoint %s of manufacturer %s: %w", id, manufacturerID, err)
	}
	return nil
}

func (s *Store) deleteEndpoint(ctx context.Context, tx *sql.Tx, manufacturerID, id string) error {
	res, err := s.exec(ctx, tx, `DELETE FROM endpoints WHERE manufacturer_id = ? AND id = ?`, manufacturerID, id)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return notFoundEndpoint(manufacturerID, id)
	}
	return s.endMessages(ctx, tx, manufacturerID, id, callout.MessageCancelled, s.now())
}

// endMessages gives the endpoint's pending and delivering messages status,
// with no further attempt.
func (s *Store) endMessages(ctx context.Context, tx *sql.Tx, manufacturerID, endpointID string, status callout.MessageStatus, now time.Time) error {
	_, err := s.exec(ctx, tx, `UPDATE event_messages SET status = ?, next_attempt_at = NULL, updated_at = ?
		WHERE manufacturer_id = ? AND endpoint_id = ? AND status IN (?, ?)`,
		string(status), micros(now), manufacturerID, endpointID,
		string(callout.MessagePending), string(callout.MessageDelivering))
	return err
}

// ReplaceEndpoints makes eps the manufacturer's endpoints, all at once:
// endpoints not among them are removed and their pending messages
// cancelled.
func (s *Store) ReplaceEndpoints(ctx context.Context, manufacturerID string, eps []*callout.Endpoint) error {
	keep := make(map[string]bool, len(eps))
	for _, e := range eps {
		keep[e.ID] = true
	}
	err := s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		old, err := s.listEndpoints(ctx, tx, manufacturerID)
		if err != nil {
			return err
		}
		for _, o := range old {
			if !keep[o.ID] {
				if err := s.deleteEndpoint(ctx, tx, manufacturerID, o.ID); err != nil {
					return err
				}
			}
		}
		for _, e := range eps {
			if err := s.putEndpoint(ctx, tx, e); err != nil {
				return err
			}
		}
		return nil
	})
	if isForeignKeyViolation(err) {
		return notFoundManufacturer(manufacturerID)
	}
	if err != nil {
		return fmt.Errorf("replacing endpoints of manufacturer %s: %w", manufacturerID, err)
	}
	return nil
}
