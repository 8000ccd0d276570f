package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/callout/callout"
)

// The secret fields of a webhook, named as in the API. Each sealed value is
// bound to its manufacturer, kind and field, so that a value copied to another
// row or column fails to open.
const (
	fieldBearerToken   = "auth.bearer_token"
	fieldClientSecret  = "auth.auth0.client_secret"
	fieldSigningSecret = "signing_secret"
)

func secretAD(manufacturerID string, kind callout.Kind, field string) []byte {
	return []byte(manufacturerID + "/" + string(kind) + "/" + field)
}

func notFoundWebhook(manufacturerID string, kind callout.Kind) error {
	return callout.NotFound(fmt.Sprintf("%s webhook of manufacturer %s", kind, manufacturerID))
}

// seal encrypts one secret of w; "" is stored as NULL, unsealed.
func (s *Store) seal(w *callout.Webhook, field, plain string) ([]byte, error) {
	if plain == "" {
		return nil, nil
	}
	sealed, err := s.sealer.Seal([]byte(plain), secretAD(w.ManufacturerID, w.Kind, field))
	if err != nil {
		return nil, fmt.Errorf("sealing %s: %w", field, err)
	}
	return sealed, nil
}

// open decrypts one secret of w. Its error names the webhook and the field,
// never the value.
func (s *Store) open(w *callout.Webhook, field string, sealed []byte) (string, error) {
	if sealed == nil {
		return "", nil
	}
	plain, err := s.sealer.Open(sealed, secretAD(w.ManufacturerID, w.Kind, field))
	if err != nil {
		return "", fmt.Errorf("%s webhook of manufacturer %s: %s cannot be opened (was CALLOUT_SECRET_KEY changed?): %w", w.Kind, w.ManufacturerID, field, err)
	}
	return string(plain), nil
}

// PutWebhook stores w, replacing the manufacturer's webhook of w.Kind, and sets
// w.UpdatedAt. Its secrets are sealed before they reach the database.
func (s *Store) PutWebhook(ctx context.Context, w *callout.Webhook) error {
	bearer, err := s.seal(w, fieldBearerToken, w.Auth.BearerToken)
	if err != nil {
		return fmt.Errorf("putting %s webhook of manufacturer %s: %w", w.Kind, w.ManufacturerID, err)
	}
	clientSecret, err := s.seal(w, fieldClientSecret, w.Auth.Auth0.ClientSecret)
	if err != nil {
		return fmt.Errorf("putting %s webhook of manufacturer %s: %w", w.Kind, w.ManufacturerID, err)
	}
	signing, err := s.seal(w, fieldSigningSecret, w.SigningSecret)
	if err != nil {
		return fmt.Errorf("putting %s webhook of manufacturer %s: %w", w.Kind, w.ManufacturerID, err)
	}
	now := s.now()
	a := w.Auth.Auth0
	err = s.writeDB(ctx, func(ctx context.Context, q querier) error {
		_, err := s.exec(ctx, q, `INSERT INTO webhooks (manufacturer_id, kind, enabled, url, auth_type,
			auth0_tenant_domain, auth0_client_id, auth0_audience, export_format, timeout_ms, retries,
			generic_error_message, breaker_failures, breaker_open_seconds, cache_seconds,
			bearer_token, auth0_client_secret, signing_secret, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (manufacturer_id, kind) DO UPDATE SET
			enabled = excluded.enabled, url = excluded.url, auth_type = excluded.auth_type,
			auth0_tenant_domain = excluded.auth0_tenant_domain, auth0_client_id = excluded.auth0_client_id,
			auth0_audience = excluded.auth0_audience, export_format = excluded.export_format,
			timeout_ms = excluded.timeout_ms, retries = excluded.retries,
			generic_error_message = excluded.generic_error_message,
			breaker_failures = excluded.breaker_failures, breaker_open_seconds = excluded.breaker_open_seconds,
			cache_seconds = excluded.cache_seconds, bearer_token = excluded.bearer_token,
			auth0_client_secret = excluded.auth0_client_secret, signing_secret = excluded.signing_secret,
			updated_at = excluded.updated_at`,
			w.ManufacturerID, string(w.Kind), w.Enabled, w.URL, string(w.Auth.Type),
			a.TenantDomain, a.ClientID, a.Audience, string(w.ExportFormat), w.TimeoutMS, w.Retries,
			cleanText(w.GenericErrorMessage), w.Breaker.ConsecutiveFailures, w.Breaker.OpenSeconds, w.CacheSeconds,
			bearer, clientSecret, signing, micros(now))
		return err
	})
	if isForeignKeyViolation(err) {
		return notFoundManufacturer(w.ManufacturerID)
	}
	if err != nil {
		return fmt.Errorf("putting %s webhook of manufacturer %s: %w", w.Kind, w.ManufacturerID, err)
	}
	w.UpdatedAt = fromMicros(micros(now))
	return nil
}

// webhookColumns are the columns of a webhook that webhookRow receives.
const webhookColumns = `enabled, url, auth_type, auth0_tenant_domain, auth0_client_id,
	auth0_audience, export_format, timeout_ms, retries, generic_error_message, breaker_failures,
	breaker_open_seconds, cache_seconds, bearer_token, auth0_client_secret, signing_secret, updated_at`

// webhookRow receives the columns of a webhook. They are nullable so that the
// row can come from an outer join that found no webhook (updatedAt is then
// NULL, as a stored webhook's never is).
type webhookRow struct {
	enabled                                          sql.NullBool
	url, authType, tenantDomain, clientID, audience  sql.NullString
	exportFormat, genericErrorMessage                sql.NullString
	timeoutMS, retries, breakerFailures, breakerOpen sql.NullInt64
	cacheSeconds, updatedAt                          sql.NullInt64
	bearer, clientSecret, signing                    []byte
}

func (r *webhookRow) dest() []any {
	return []any{&r.enabled, &r.url, &r.authType, &r.tenantDomain, &r.clientID, &r.audience, &r.exportFormat,
		&r.timeoutMS, &r.retries, &r.genericErrorMessage, &r.breakerFailures, &r.breakerOpen, &r.cacheSeconds,
		&r.bearer, &r.clientSecret, &r.signing, &r.updatedAt}
}

// webhook returns the row's webhook with its secrets opened, or nil when the
// row holds none.
func (s *Store) webhook(r *webhookRow, manufacturerID string, kind callout.Kind) (*callout.Webhook, error) {
	if !r.updatedAt.Valid {
		return nil, nil
	}
	w := &callout.Webhook{
		ManufacturerID:      manufacturerID,
		Kind:                kind,
		Enabled:             r.enabled.Bool,
		URL:                 r.url.String,
		TimeoutMS:           int(r.timeoutMS.Int64),
		Retries:             int(r.retries.Int64),
		GenericErrorMessage: r.genericErrorMessage.String,
		ExportFormat:        callout.ExportFormat(r.exportFormat.String),
		CacheSeconds:        int(r.cacheSeconds.Int64),
		UpdatedAt:           fromMicros(r.updatedAt.Int64),
	}
	w.Auth.Type = callout.AuthType(r.authType.String)
	w.Auth.Auth0.TenantDomain = r.tenantDomain.String
	w.Auth.Auth0.ClientID = r.clientID.String
	w.Auth.Auth0.Audience = r.audience.String
	w.Breaker.ConsecutiveFailures = int(r.breakerFailures.Int64)
	w.Breaker.OpenSeconds = int(r.breakerOpen.Int64)
	var err error
	if w.Auth.BearerToken, err = s.open(w, fieldBearerToken, r.bearer); err != nil {
		return nil, err
	}
	if w.Auth.Auth0.ClientSecret, err = s.open(w, fieldClientSecret, r.clientSecret); err != nil {
		return nil, err
	}
	if w.SigningSecret, err = s.open(w, fieldSigningSecret, r.signing); err != nil {
		return nil, err
	}
	return w, nil
}

// GetWebhook returns the manufacturer's webhook of kind with its secrets
// opened, or a not_found error.
func (s *Store) GetWebhook(ctx context.Context, manufacturerID string, kind callout.Kind) (*callout.Webhook, error) {
	var r webhookRow
	err := s.queryRow(ctx, s.db, `SELECT `+webhookColumns+` FROM webhooks WHERE manufacturer_id = ? AND kind = ?`,
		manufacturerID, string(kind)).Scan(r.dest()...)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, notFoundWebhook(manufacturerID, kind)
	case err != nil:
		return nil, fmt.Errorf("reading %s webhook of manufacturer %s: %w", kind, manufacturerID, err)
	}
	w, err := s.webhook(&r, manufacturerID, kind)
	if err != nil {
		return nil, err
	}
	if w == nil {
		return nil, fmt.Errorf("reading %s webhook of manufacturer %s: its updated_at is NULL", kind, manufacturerID)
	}
	return w, nil
}

// DeleteWebhook removes the manufacturer's webhook of kind, or returns a
// not_found error when there is none.
func (s *Store) DeleteWebhook(ctx context.Context, manufacturerID string, kind callout.Kind) error {
	var res sql.Result
	err := s.writeDB(ctx, func(ctx context.Context, q querier) (err error) {
		res, err = s.exec(ctx, q, `DELETE FROM webhooks WHERE manufacturer_id = ? AND kind = ?`, manufacturerID, string(kind))
		return err
	})
	if err != nil {
		return fmt.Errorf("deleting %s webhook of manufacturer %s: %w", kind, manufacturerID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("deleting %s webhook of manufacturer %s: %w", kind, manufacturerID, err)
	} else if n == 0 {
		return notFoundWebhook(manufacturerID, kind)
	}
	return nil
}
