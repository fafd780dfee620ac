package fcm

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// OAuth facts the token endpoint enforces.
const (
	jwtBearerGrant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	// Scopes that allow messages:send (the send method's reference page).
	scopeMessaging     = "https://www.googleapis.com/auth/firebase.messaging"
	scopeCloudPlatform = "https://www.googleapis.com/auth/cloud-platform"
	// maxAssertionLife is Google's limit on exp - iat.
	maxAssertionLife = time.Hour
)

// Google's error_description texts, as seen in answers quoted in public
// issue threads.
const (
	descBadSignature    = "Invalid JWT Signature."
	descAccountNotFound = "Invalid grant: account not found"
	descTimeframe       = "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim."
	descMissingScope    = "Empty or missing scope not allowed."
	descInvalidScope    = "Invalid OAuth scope or ID token audience provided."
	descUnauthorized    = "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested."
	// UNCONFIRMED wording; the refusal itself is certain.
	descAudience  = "Invalid JWT: Failed audience check."
	descMalformed = "Invalid JWT: the assertion is not a well-formed JWT."
)

// account is a registered service account.
type account struct {
	email     string
	projectID string
	keyID     string // "" accepts any kid
	pub       *rsa.PublicKey
}

// accessToken is an issued bearer token.
type accessToken struct {
	account *account
	expires time.Time
}

// AddProject makes a Firebase project exist, with no service account yet.
func (e *Emulator) AddProject(projectID string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.projects[projectID] = true
}

// AddServiceAccount registers a service account of projectID (which then
// exists) whose assertions verify with pub. A non-empty keyID must match
// the assertion's kid, as the private_key_id of a key file would.
func (e *Emulator) AddServiceAccount(projectID, clientEmail, keyID string, pub *rsa.PublicKey) error {
	if projectID == "" || clientEmail == "" || pub == nil {
		return errors.New("fcm emulator: a service account needs a project, an email and a public key")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if a, ok := e.accounts[clientEmail]; ok && a.projectID != projectID {
		return fmt.Errorf("fcm emulator: %s belongs to project %s already", clientEmail, a.projectID)
	}
	e.projects[projectID] = true
	e.accounts[clientEmail] = &account{email: clientEmail, projectID: projectID, keyID: keyID, pub: pub}
	return nil
}

// RemoveServiceAccount deletes an account: its assertions are refused
// ("account not found") and its access tokens stop working.
func (e *Emulator) RemoveServiceAccount(clientEmail string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.accounts, clientEmail)
	for tok, at := range e.accessTokens {
		if at.account.email == clientEmail {
			delete(e.accessTokens, tok)
		}
	}
}

// CreateServiceAccount generates an RSA 2048 key for a new account of
// projectID and returns its key file, like the Firebase console's
// "Generate new private key". Its token_uri is TokenURL, so call it after
// Start (or override the client's token URL).
func (e *Emulator) CreateServiceAccount(projectID string) ([]byte, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("fcm emulator: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("fcm emulator: %w", err)
	}
	keyID := randomHex(20)
	email := "herald-" + randomHex(4) + "@" + projectID + ".iam.gserviceaccount.com"
	if err := e.AddServiceAccount(projectID, email, keyID, &key.PublicKey); err != nil {
		return nil, err
	}
	return json.MarshalIndent(map[string]string{
		"type":           "service_account",
		"project_id":     projectID,
		"private_key_id": keyID,
		"private_key":    string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":   email,
		"client_id":      randomDigits(21),
		"auth_uri":       "https://accounts.google.com/o/oauth2/auth",
		"token_uri":      e.TokenURL(),
	}, "", "  ")
}

// ExpireAccessTokens makes every access token issued so far expired, as if
// an hour had passed: the next send with one gets 401 UNAUTHENTICATED.
func (e *Emulator) ExpireAccessTokens() {
	e.mu.Lock()
	defer e.mu.Unlock()
	past := e.now().Add(-time.Second)
	for _, at := range e.accessTokens {
		at.expires = past
	}
}

// oauthFailure is a refusal by the token endpoint.
type oauthFailure struct {
	status      int
	code        string
	description string
}

func refuse(status int, code, description string) *oauthFailure {
	return &oauthFailure{status: status, code: code, description: description}
}

func (e *Emulator) handleToken(w http.ResponseWriter, r *http.Request) {
	tok, lifetime, fail := e.grant(r)
	w.Header().Set("Cache-Control", "no-cache, no-store, max-age=0, must-revalidate")
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if fail != nil {
		e.mu.Lock()
		e.stats.TokenRefusals++
		e.mu.Unlock()
		w.WriteHeader(fail.status)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": fail.code, "error_description": fail.description})
		return
	}
	_ = json.NewEncoder(w).Encode(struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
		TokenType   string `json:"token_type"`
	}{tok, int64(lifetime / time.Second), "Bearer"})
}

// grant checks the request and the assertion and issues an access token.
func (e *Emulator) grant(r *http.Request) (string, time.Duration, *oauthFailure) {
	if r.Method != http.MethodPost {
		return "", 0, refuse(http.StatusMethodNotAllowed, "invalid_request", "The token endpoint only accepts POST.")
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/x-www-form-urlencoded" {
		return "", 0, refuse(http.StatusBadRequest, "invalid_request", "Content-Type must be application/x-www-form-urlencoded.")
	}
	r.Body = http.MaxBytesReader(nil, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		return "", 0, refuse(http.StatusBadRequest, "invalid_request", "The request body does not parse.")
	}
	if gt := r.PostForm.Get("grant_type"); gt != jwtBearerGrant {
		return "", 0, refuse(http.StatusBadRequest, "unsupported_grant_type", "Invalid grant_type: "+gt)
	}
	assertion := r.PostForm.Get("assertion")
	if assertion == "" {
		return "", 0, refuse(http.StatusBadRequest, "invalid_request", "Missing required parameter: assertion")
	}
	acct, claims, fail := e.verifyAssertion(assertion)
	if fail != nil {
		return "", 0, fail
	}
	if fail := e.checkClaims(r, acct, claims); fail != nil {
		return "", 0, fail
	}

	tok := "ya29.emu." + randomToken(48)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.accounts[acct.email] != acct { // removed meanwhile
		return "", 0, refuse(http.StatusBadRequest, "invalid_grant", descAccountNotFound)
	}
	e.accessTokens[tok] = &accessToken{account: acct, expires: e.now().Add(e.cfg.AccessTokenLifetime)}
	e.stats.TokenGrants++
	return tok, e.cfg.AccessTokenLifetime, nil
}

var (
	errUnknownAccount = errors.New("unknown service account")
	errWrongKeyID     = errors.New("kid is not the account's key")
)

// verifyAssertion checks the RS256 signature with the key of the account
// named by iss. Claims are checked by checkClaims, with Google's answers.
func (e *Emulator) verifyAssertion(assertion string) (*account, jwt.MapClaims, *oauthFailure) {
	claims := jwt.MapClaims{}
	var acct *account
	_, err := jwt.ParseWithClaims(assertion, claims, func(t *jwt.Token) (any, error) {
		iss, _ := claims["iss"].(string)
		e.mu.Lock()
		a := e.accounts[iss]
		e.mu.Unlock()
		if a == nil {
			return nil, errUnknownAccount
		}
		if kid, _ := t.Header["kid"].(string); kid != "" && a.keyID != "" && kid != a.keyID {
			return nil, errWrongKeyID
		}
		acct = a
		return a.pub, nil
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithoutClaimsValidation())
	switch {
	case err == nil:
		return acct, claims, nil
	case errors.Is(err, errUnknownAccount):
		return nil, nil, refuse(http.StatusBadRequest, "invalid_grant", descAccountNotFound)
	case errors.Is(err, jwt.ErrTokenMalformed):
		return nil, nil, refuse(http.StatusBadRequest, "invalid_grant", descMalformed)
	default: // bad signature, another algorithm, a kid of another key
		return nil, nil, refuse(http.StatusBadRequest, "invalid_grant", descBadSignature)
	}
}

func (e *Emulator) checkClaims(r *http.Request, acct *account, claims jwt.MapClaims) *oauthFailure {
	if sub, _ := claims["sub"].(string); sub != "" && sub != acct.email {
		// Impersonation needs domain-wide delegation, which FCM has no use
		// for.
		return refuse(http.StatusUnauthorized, "unauthorized_client", descUnauthorized)
	}
	aud, err := claims.GetAudience()
	if err != nil || len(aud) != 1 || !e.isTokenURL(r, aud[0]) {
		return refuse(http.StatusBadRequest, "invalid_grant", descAudience)
	}
	iat, errI := claims.GetIssuedAt()
	exp, errE := claims.GetExpirationTime()
	if errI != nil || errE != nil || iat == nil || exp == nil {
		return refuse(http.StatusBadRequest, "invalid_grant", descTimeframe)
	}
	now, skew := e.now(), e.cfg.ClockSkew
	life := exp.Sub(iat.Time)
	if life <= 0 || life > maxAssertionLife || iat.After(now.Add(skew)) || exp.Before(now.Add(-skew)) {
		return refuse(http.StatusBadRequest, "invalid_grant", descTimeframe)
	}
	scope, _ := claims["scope"].(string)
	if strings.TrimSpace(scope) == "" {
		return refuse(http.StatusBadRequest, "invalid_scope", descMissingScope)
	}
	for _, s := range strings.Fields(scope) {
		if s == scopeMessaging || s == scopeCloudPlatform {
			return nil
		}
	}
	// Google itself would issue a token for another valid scope and FCM
	// would refuse it (403); refusing here says the same thing sooner.
	return refuse(http.StatusBadRequest, "invalid_scope", descInvalidScope)
}

// isTokenURL tells whether aud is the URL the assertion was posted to:
// the emulator's own, or the same path on the host the client dialled.
func (e *Emulator) isTokenURL(r *http.Request, aud string) bool {
	if aud == e.TokenURL() {
		return true
	}
	scheme := "https"
	if r.TLS == nil {
		scheme = "http"
	}
	return aud == scheme+"://"+r.Host+"/token"
}

// authorize finds the access token of a send; the failure is Google's 401.
func (e *Emulator) authorize(r *http.Request) (*accessToken, *apiError) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, errUnauthenticated("Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.")
	}
	scheme, tok, ok := strings.Cut(h, " ")
	e.mu.Lock()
	defer e.mu.Unlock()
	at := e.accessTokens[strings.TrimSpace(tok)]
	if !ok || !strings.EqualFold(scheme, "Bearer") || at == nil || !e.now().Before(at.expires) {
		return nil, errUnauthenticated("Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.")
	}
	return at, nil
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read does not fail on supported platforms
	return b
}

func randomToken(n int) string { return base64.RawURLEncoding.EncodeToString(randomBytes(n)) }

func randomHex(n int) string { return hex.EncodeToString(randomBytes(n)) }

func randomDigits(n int) string {
	b := randomBytes(n)
	for i := range b {
		b[i] = '0' + b[i]%10
	}
	return string(b)
}
