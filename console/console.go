// Package console is Callout's web console (README: The console): server-rendered pages
// under /console/ where manufacturers' administrators configure, test and
// watch their webhooks and event endpoints, and platform operators do so for
// every manufacturer.
//
// The console is a presenter over the API: every page reads, and every form
// changes, through the API's own handler, in process, with a short-lived
// token of the session's manufacturer. So the console applies the very
// services, validation and permission rules of the API, and shows its
// problems (a 422's fields beside their inputs).
//
// A page is a handler registered in New (wrapped in tenant for a
// manufacturer's pages, which checks the session and gives it a client of
// the API), a template in templates/ named in pageNames, and, for a section
// of its own, a link in layout.html's nav.
package console

import (
	"crypto/subtle"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/callout/callout"
	"github.com/callout/callout/auth"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// cookieName is the session cookie's name.
const cookieName = "callout_console"

// Breakers tells the state of a webhook's circuit breaker; *webhook.Client
// is one.
type Breakers interface {
	BreakerState(w *callout.Webhook) string
}

// Minter mints the short-lived API token a console request acts with.
type Minter func(role auth.Role, manufacturerID string) (string, error)

// Options configure a Console.
type Options struct {
	Links    *Links
	API      http.Handler // the gateway
	Mint     Minter
	Breakers Breakers
	Logger   *slog.Logger
}

// Console serves the console's pages.
type Console struct {
	links    *Links
	api      http.Handler
	mint     Minter
	breakers Breakers
	log      *slog.Logger
	pages    map[string]*template.Template
	handler  http.Handler
}

// New returns a Console with its pages parsed and routes registered.
func New(o Options) (*Console, error) {
	c := &Console{links: o.Links, api: o.API, mint: o.Mint, breakers: o.Breakers, log: o.Logger}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if err := c.parse(); err != nil {
		return nil, err
	}
	static, err := fs.Sub(staticFiles, "static")
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /console/static/", http.StripPrefix("/console/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET "+SignInPath, c.signIn)
	mux.HandleFunc("POST /console/sign-out", c.signedIn(c.signOut))
	mux.HandleFunc("GET /console/{$}", c.signedIn(c.home))
	mux.HandleFunc("GET /console/m/{m}/{$}", c.tenant(c.overview))
	mux.HandleFunc("GET /console/m/{m}/webhooks/{kind}", c.tenant(c.editWebhook))
	mux.HandleFunc("POST /console/m/{m}/webhooks/{kind}", c.tenant(c.saveWebhook))
	mux.HandleFunc("POST /console/m/{m}/webhooks/{kind}/test", c.tenant(c.testWebhook))
	mux.HandleFunc("GET /console/m/{m}/deliveries", c.tenant(c.deliveries))
	mux.HandleFunc("GET /console/m/{m}/deliveries/{id}", c.tenant(c.delivery))
	mux.HandleFunc("GET /console/m/{m}/jobs", c.tenant(c.findJob))
	mux.HandleFunc("GET /console/m/{m}/jobs/{j}", c.tenant(c.job))
	mux.HandleFunc("GET /console/m/{m}/endpoints", c.tenant(c.endpoints))
	mux.HandleFunc("POST /console/m/{m}/endpoints", c.tenant(c.saveEndpoint))
	mux.HandleFunc("GET /console/m/{m}/endpoints/new", c.tenant(c.newEndpoint))
	mux.HandleFunc("GET /console/m/{m}/endpoints/{e}", c.tenant(c.editEndpoint))
	mux.HandleFunc("POST /console/m/{m}/endpoints/{e}", c.tenant(c.saveEndpoint))
	mux.HandleFunc("POST /console/m/{m}/endpoints/{e}/test", c.tenant(c.testEndpoint))
	mux.HandleFunc("GET /console/m/{m}/endpoints/{e}/attempts", c.tenant(c.attempts))
	mux.HandleFunc("POST /console/m/{m}/endpoints/{e}/recover", c.tenant(c.recoverEndpoint))
	mux.HandleFunc("GET /console/m/{m}/events", c.tenant(c.events))
	mux.HandleFunc("GET /console/m/{m}/events/{id}", c.tenant(c.event))
	mux.HandleFunc("POST /console/m/{m}/events/{id}/redeliver", c.tenant(c.redeliver))
	mux.HandleFunc("GET /console/m/{m}/event-types", c.tenant(c.eventTypes))
	mux.HandleFunc("/console/", func(w http.ResponseWriter, r *http.Request) {
		c.fail(w, r, nil, callout.Errorf(callout.ECodeNotFound, "There is no such page."))
	})

	// Cross-origin state changes are refused by the browser's own report
	// (Sec-Fetch-Site, or Origin against Host) before any handler runs; the
	// session's CSRF token, checked by signedIn, covers browsers that send
	// neither.
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.fail(w, r, nil, callout.Errorf(callout.ECodeForbidden, "Cross-site requests are refused. Use the console's own forms."))
	}))
	c.handler = cop.Handler(mux)
	return c, nil
}

// ServeHTTP serves the console, with headers that keep its pages out of
// caches, frames and other sites' reach.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	c.handler.ServeHTTP(w, r)
}

// session is the signed-in user of a request.
type session struct {
	token string
	callout.ConsoleSession
	// CSRF is the token each of the session's forms carries.
	CSRF string
}

// Platform reports whether the session is a platform operator's.
func (s *session) Platform() bool { return s.ManufacturerID == "" }

// canAccess applies the API's tenancy rule: a manufacturer's session sees
// only that manufacturer.
func (s *session) canAccess(m string) bool { return s.Platform() || s.ManufacturerID == m }

// current returns the request's live session, or nil.
func (c *Console) current(r *http.Request) *session {
	cookie, err := r.Cookie(cookieName)
	if err != nil || cookie.Value == "" {
		return nil
	}
	cs, err := c.links.session(r.Context(), cookie.Value)
	if err != nil {
		if callout.ErrorCode(err) != callout.ECodeNotFound {
			c.log.ErrorContext(r.Context(), "reading a console session", "error", err)
		}
		return nil
	}
	return &session{token: cookie.Value, ConsoleSession: *cs, CSRF: csrfToken(cookie.Value)}
}

type sessionHandler func(w http.ResponseWriter, r *http.Request, s *session)

// signedIn sends a request without a live session to the sign-in page, and
// refuses a state change whose form does not carry the session's CSRF token.
func (c *Console) signedIn(h sessionHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s := c.current(r)
		if s == nil {
			http.Redirect(w, r, SignInPath, http.StatusSeeOther)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
			if subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(s.CSRF)) != 1 {
				c.fail(w, r, s, callout.Errorf(callout.ECodeForbidden, "The form has expired or did not come from this console. Reload the page and try again."))
				return
			}
		}
		h(w, r, s)
	}
}

// maxFormBytes bounds a console form.
const maxFormBytes = 64 << 10

// tenantView is a page's manufacturer.
type tenantView struct {
	ID   string
	Name string
}

type tenantHandler func(w http.ResponseWriter, r *http.Request, s *session, t *client)

// tenant serves a page of the manufacturer of the path: 404, as the API
// answers, when the session may not see it or it does not exist.
func (c *Console) tenant(h tenantHandler) http.HandlerFunc {
	return c.signedIn(func(w http.ResponseWriter, r *http.Request, s *session) {
		m := r.PathValue("m")
		if !callout.ValidID(m) || !s.canAccess(m) {
			c.fail(w, r, s, callout.NotFound("manufacturer "+m))
			return
		}
		// A platform operator acts as the manufacturer's administrator: the
		// platform may issue itself a link for any manufacturer anyway.
		tok, err := c.mint(auth.RoleAdmin, m)
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
		cl := &client{api: c.api, ctx: r.Context(), token: tok, m: m}
		var mfr callout.Manufacturer
		if err := cl.do(http.MethodGet, "", nil, &mfr); err != nil {
			c.fail(w, r, s, err)
			return
		}
		cl.name = mfr.Name
		h(w, r, s, cl)
	})
}

func (c *Console) home(w http.ResponseWriter, r *http.Request, s *session) {
	if !s.Platform() {
		http.Redirect(w, r, "/console/m/"+s.ManufacturerID+"/", http.StatusSeeOther)
		return
	}
	if m := r.URL.Query().Get("m"); m != "" {
		if callout.ValidID(m) {
			http.Redirect(w, r, "/console/m/"+m+"/", http.StatusSeeOther)
			return
		}
		c.render(w, r, http.StatusUnprocessableEntity, "home", &view{Session: s, Title: "Manufacturers",
			Fields: map[string]string{"m": "must be a manufacturer id: 1 to 64 letters, digits, '.', '_' or '-'"}})
		return
	}
	c.render(w, r, http.StatusOK, "home", &view{Session: s, Title: "Manufacturers"})
}

// signIn opens a sign-in link: its token, good once, starts a session. The
// answer is a page that moves on to the console, rather than a redirect: a
// link opened from another site (a mail, a chat) is a cross-site
// navigation, and a browser would not send the SameSite=Strict cookie on
// the redirect that ends it.
func (c *Console) signIn(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	if token == "" {
		if c.current(r) != nil {
			http.Redirect(w, r, "/console/", http.StatusSeeOther)
			return
		}
		c.render(w, r, http.StatusUnauthorized, "signin", &view{Title: "Sign in"})
		return
	}
	st, sess, err := c.links.signIn(r.Context(), token)
	if err != nil {
		if callout.ErrorCode(err) != callout.ECodeNotFound {
			c.fail(w, r, nil, err)
			return
		}
		c.render(w, r, http.StatusForbidden, "signin", &view{Title: "Sign in",
			Error: "This sign-in link has expired or was already used. Ask for a new one."})
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name:     cookieName,
		Value:    st,
		Path:     "/console/",
		Expires:  sess.ExpiresAt,
		MaxAge:   int(SessionTTL / time.Second),
		HttpOnly: true,
		Secure:   overTLS(r),
		SameSite: http.SameSiteStrictMode,
	})
	c.render(w, r, http.StatusOK, "signedin", &view{Title: "Signed in"})
}

// overTLS reports whether the browser reached Callout over TLS, directly or
// through a proxy that says so.
func overTLS(r *http.Request) bool {
	return r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https"
}

func (c *Console) signOut(w http.ResponseWriter, r *http.Request, s *session) {
	if err := c.links.signOut(r.Context(), s.token); err != nil {
		c.fail(w, r, s, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/console/", MaxAge: -1,
		HttpOnly: true, Secure: overTLS(r), SameSite: http.SameSiteStrictMode})
	c.render(w, r, http.StatusOK, "signin", &view{Title: "Signed out", Notice: "You are signed out."})
}

// fail shows an error page with the status the API gives err.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, s *session, err error) {
	var pe *problemError
	status, msg := http.StatusInternalServerError, callout.ErrorMessage(err)
	switch {
	case errors.As(err, &pe):
		status, msg = pe.Status, pe.Detail
	case callout.ErrorCode(err) == callout.ECodeNotFound:
		status = http.StatusNotFound
	case callout.ErrorCode(err) == callout.ECodeForbidden:
		status = http.StatusForbidden
	default:
		c.log.ErrorContext(r.Context(), "console request failed", "path", r.URL.Path, "error", err)
	}
	c.render(w, r, status, "error", &view{Session: s, Title: http.StatusText(status), Error: msg})
}
