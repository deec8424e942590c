// The OpenAPI 3 description, written by hand so that a test comparing it with Routes() means
// something. Keep both in step when adding a route.
#include "api/api.h"

namespace lk::api {

std::string OpenApiDocument() {
  return R"json({
  "openapi": "3.0.3",
  "info": {"title": "lerarenkaart", "version": "1.0.0",
           "description": "The digital Flemish teacher card: claims, passes, partner verification, staff reports. Errors are application/problem+json (RFC 9457) with type, title, status, detail and, when a field is at fault, field."},
  "components": {
    "securitySchemes": {
      "partnerKey": {"type": "http", "scheme": "bearer", "description": "Partner API key from `lerarenkaart partners add NAME`"},
      "staffToken": {"type": "http", "scheme": "bearer", "description": "Staff token from `lerarenkaart staff add NAME`"},
      "cardAccess": {"type": "http", "scheme": "bearer", "description": "The access_token returned by a claim"},
      "staffCookie": {"type": "apiKey", "in": "cookie", "name": "lk_staff", "description": "Set by GET /dashboard?token=STAFF_TOKEN"},
      "teacherSession": {"type": "apiKey", "in": "cookie", "name": "lk_session", "description": "A signed-in device: set by a successful POST /claim (docs/web.md)"},
      "deskSession": {"type": "apiKey", "in": "cookie", "name": "lk_desk", "description": "A signed-in partner desk: set by a successful POST /desk/signin (docs/desk.md)"}
    },
    "schemas": {
      "Problem": {"type": "object", "required": ["type", "title", "status", "detail"],
        "properties": {"type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                       "detail": {"type": "string"}, "field": {"type": "string"}, "request_id": {"type": "string"}}},
      "Card": {"type": "object", "required": ["serial", "year", "token", "access_token", "pass_url", "google_url"],
        "properties": {"serial": {"type": "string"}, "year": {"type": "integer"}, "status": {"type": "string", "enum": ["active", "revoked"]},
                       "token": {"type": "string"}, "access_token": {"type": "string"},
                       "pass_url": {"type": "string"}, "google_url": {"type": "string"}}},
      "Verdict": {"type": "object", "required": ["valid", "status", "reason", "serial", "year"],
        "properties": {"valid": {"type": "boolean"}, "status": {"type": "string", "enum": ["active", "revoked", "expired", "invalid"]},
                       "reason": {"type": "string"}, "serial": {"type": "string", "nullable": true}, "year": {"type": "integer", "nullable": true}}}
    },
    "responses": {
      "Problem": {"description": "An error", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    },
    "parameters": {
      "serial": {"name": "serial", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,40}$"}}
    }
  },
  "paths": {
    "/healthz": {"get": {"summary": "Liveness and the ledger backend", "responses": {"200": {"description": "ok"}}}},
    "/readyz": {"get": {"summary": "Readiness: the ledger answers a read", "responses": {"200": {"description": "ready"}, "503": {"$ref": "#/components/responses/Problem"}}}},
    "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "text/plain; version=0.0.4"}}}},
    "/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI 3"}}}},
    "/.well-known/jwks.json": {"get": {"summary": "Public token keys (JWK Set), with ETag", "responses": {"200": {"description": "JWK Set"}, "304": {"description": "Not modified"}}}},
    "/v1/revocations": {"get": {"summary": "Revoked serials of the valid card years as an ES256 JWS (typ lk-revocations+jwt) with iat, exp and seq, signed with the revocation-list key (JWK use lk-revocations)",
      "responses": {"200": {"description": "application/jwt"}, "304": {"description": "Not modified (If-None-Match)"}}}},
    "/v1/verify": {"post": {"summary": "Verify a scanned token online (signature, validity, revocation)", "security": [{"partnerKey": []}],
      "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "additionalProperties": false, "required": ["token"], "properties": {"token": {"type": "string"}}}}}},
      "responses": {"200": {"description": "Verdict", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Verdict"}}}},
                    "400": {"$ref": "#/components/responses/Problem"}, "401": {"$ref": "#/components/responses/Problem"}, "413": {"$ref": "#/components/responses/Problem"}, "429": {"$ref": "#/components/responses/Problem"}}}},
    "/v1/claims": {"post": {"summary": "Redeem a one-time claim code: issue (or return) the holder's card of the current year",
      "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "additionalProperties": false, "required": ["claim_code"], "properties": {"claim_code": {"type": "string"}}}}}},
      "responses": {"200": {"description": "The card (already issued)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Card"}}}},
                    "201": {"description": "The card (newly issued)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Card"}}}},
                    "400": {"$ref": "#/components/responses/Problem"}, "404": {"$ref": "#/components/responses/Problem"}, "410": {"$ref": "#/components/responses/Problem"}, "429": {"$ref": "#/components/responses/Problem"}}}},
    "/v1/cards": {"post": {"summary": "Issue a card on a staff member's behalf", "security": [{"staffToken": []}],
      "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "additionalProperties": false, "required": ["staff_id"], "properties": {"staff_id": {"type": "string"}, "year": {"type": "integer"}}}}}},
      "responses": {"200": {"description": "The card (already issued)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Card"}}}},
                    "201": {"description": "The card (newly issued)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Card"}}}},
                    "400": {"$ref": "#/components/responses/Problem"}, "401": {"$ref": "#/components/responses/Problem"}, "404": {"$ref": "#/components/responses/Problem"}}}},
    "/v1/cards/{serial}/revoke": {"post": {"summary": "Revoke a card", "security": [{"staffToken": []}], "parameters": [{"$ref": "#/components/parameters/serial"}],
      "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "additionalProperties": false, "required": ["reason"], "properties": {"reason": {"type": "string"}}}}}},
      "responses": {"200": {"description": "Revoked"}, "401": {"$ref": "#/components/responses/Problem"}, "404": {"$ref": "#/components/responses/Problem"}, "409": {"$ref": "#/components/responses/Problem"}}}},
    "/v1/cards/{serial}/pass.pkpass": {"get": {"summary": "The signed Apple Wallet pass (strong ETag)", "security": [{"cardAccess": []}], "parameters": [{"$ref": "#/components/parameters/serial"}],
      "responses": {"200": {"description": "application/vnd.apple.pkpass"}, "304": {"description": "Not modified"}, "401": {"$ref": "#/components/responses/Problem"}}}},
    "/v1/cards/{serial}/google": {"get": {"summary": "Redirect to the Google Wallet save link", "security": [{"cardAccess": []}], "parameters": [{"$ref": "#/components/parameters/serial"}],
      "responses": {"302": {"description": "Location: https://pay.google.com/gp/v/save/..."}, "401": {"$ref": "#/components/responses/Problem"}, "503": {"$ref": "#/components/responses/Problem"}}}},
    "/v1/imports/{kind}": {"post": {"summary": "Import a CSV file (all or nothing)", "security": [{"staffToken": []}],
      "parameters": [{"name": "kind", "in": "path", "required": true, "schema": {"type": "string", "enum": ["roster", "subscriptions", "starters", "library", "published"]}},
                     {"name": "year", "in": "query", "required": false, "description": "Card year; required except for published", "schema": {"type": "integer"}}],
      "requestBody": {"required": true, "content": {"text/csv": {"schema": {"type": "string"}}}},
      "responses": {"200": {"description": "Import summary"}, "400": {"$ref": "#/components/responses/Problem"}, "401": {"$ref": "#/components/responses/Problem"}, "413": {"$ref": "#/components/responses/Problem"}}}},
    "/v1/reports/adoption": {"get": {"summary": "The adoption report", "security": [{"staffToken": []}],
      "parameters": [{"name": "period", "in": "query", "schema": {"type": "string", "enum": ["calendar", "school"]}},
                     {"name": "by", "in": "query", "schema": {"type": "string", "enum": ["none", "province", "network", "role", "level"]}},
                     {"name": "years", "in": "query", "schema": {"type": "string", "example": "2017-2026"}},
                     {"name": "format", "in": "query", "description": "xlsx answers application/vnd.openxmlformats-officedocument.spreadsheetml.sheet with Content-Disposition: attachment", "schema": {"type": "string", "enum": ["json", "csv", "html", "table", "xlsx"]}},
                     {"name": "part", "in": "query", "description": "csv: rows (default), reconciliation or notes", "schema": {"type": "string", "enum": ["rows", "reconciliation", "notes"]}},
                     {"name": "delimiter", "in": "query", "description": "csv: ; (default, decimal comma) or , (decimal point)", "schema": {"type": "string", "enum": [";", ",", "semicolon", "comma"]}}],
      "responses": {"200": {"description": "The report"}, "400": {"$ref": "#/components/responses/Problem"}, "401": {"$ref": "#/components/responses/Problem"}}}},
    "/": {"get": {"summary": "Teacher's page: what the card is, and the way to the claim form; a signed-in device is sent to /card", "tags": ["pages"],
      "parameters": [{"name": "lang", "in": "query", "schema": {"type": "string", "enum": ["nl", "fr", "en"]}, "description": "Switch language (remembered in the lang cookie)"}],
      "responses": {"200": {"description": "text/html"}, "303": {"description": "Signed in: Location /card"}}}},
    "/claim": {"get": {"summary": "Teacher's page: the claim form (code prefilled from ?code=)", "tags": ["pages"],
      "parameters": [{"name": "code", "in": "query", "schema": {"type": "string"}}, {"name": "lang", "in": "query", "schema": {"type": "string", "enum": ["nl", "fr", "en"]}}],
      "responses": {"200": {"description": "text/html; sets the lk_csrf cookie"}}},
      "post": {"summary": "Redeem a claim code from the form: a teacher session and a redirect to /card, or the form again with what to do", "tags": ["pages"],
      "requestBody": {"required": true, "content": {"application/x-www-form-urlencoded": {"schema": {"type": "object", "required": ["code", "csrf"], "properties": {"code": {"type": "string"}, "csrf": {"type": "string"}}}}}},
      "responses": {"303": {"description": "Claimed: lk_session set, Location /card"}, "400": {"description": "text/html: no code"}, "403": {"description": "text/html: the form's csrf does not match lk_csrf"},
                    "404": {"description": "text/html: unknown code"}, "410": {"description": "text/html: expired or spent code"}, "413": {"description": "text/html"}, "429": {"description": "text/html"}}}},
    "/card": {"get": {"summary": "Teacher's page: the signed-in card with its QR code (inline SVG) and the wallet buttons", "tags": ["pages"], "security": [{"teacherSession": []}],
      "responses": {"200": {"description": "text/html"}, "303": {"description": "Not signed in: Location /"}}}},
    "/card/pass.pkpass": {"get": {"summary": "The signed-in card's Apple Wallet pass", "tags": ["pages"], "security": [{"teacherSession": []}],
      "responses": {"200": {"description": "application/vnd.apple.pkpass (attachment)"}, "304": {"description": "Not modified"}, "303": {"description": "Not signed in: Location /"}}}},
    "/card/google": {"get": {"summary": "The signed-in card's Google Wallet save link (only when Google is configured)", "tags": ["pages"], "security": [{"teacherSession": []}],
      "responses": {"303": {"description": "Location: the save link, or / when not signed in"}, "404": {"description": "text/html: Google Wallet is not configured"}}}},
    "/signout": {"post": {"summary": "End this device's teacher session", "tags": ["pages"], "security": [{"teacherSession": []}],
      "requestBody": {"required": true, "content": {"application/x-www-form-urlencoded": {"schema": {"type": "object", "required": ["csrf"], "properties": {"csrf": {"type": "string"}}}}}},
      "responses": {"303": {"description": "Signed out: Location /"}, "403": {"description": "text/html: the form's csrf is not this session's"}}}},
    "/static/site.css": {"get": {"summary": "The pages' stylesheet", "tags": ["pages"], "responses": {"200": {"description": "text/css"}, "304": {"description": "Not modified"}}}},
    "/static/badges/{wallet}": {"get": {"summary": "The configured official wallet badge artwork", "tags": ["pages"],
      "parameters": [{"name": "wallet", "in": "path", "required": true, "schema": {"type": "string", "enum": ["apple", "google"]}}],
      "responses": {"200": {"description": "image/svg+xml or image/png"}, "404": {"description": "text/html: none configured"}}}},
    "/desk": {"get": {"summary": "Partner's desk: the sign-in form, or (signed in) the scan page", "tags": ["desk"],
      "parameters": [{"name": "lang", "in": "query", "schema": {"type": "string", "enum": ["nl", "fr", "en"]}}],
      "responses": {"200": {"description": "text/html"}}}},
    "/desk/signin": {"post": {"summary": "Sign a desk in with the partner key: a desk session (lk_desk cookie, a random id only) and a redirect to /desk", "tags": ["desk"],
      "requestBody": {"required": true, "content": {"application/x-www-form-urlencoded": {"schema": {"type": "object", "required": ["key", "csrf"], "properties": {"key": {"type": "string"}, "csrf": {"type": "string"}}}}}},
      "responses": {"303": {"description": "Signed in: Location /desk"}, "400": {"description": "text/html: no key"}, "401": {"description": "text/html: not a partner key"}, "403": {"description": "text/html: the form's csrf does not match lk_csrf"}, "429": {"description": "text/html"}}}},
    "/desk/scan": {"post": {"summary": "The verdict on a scanned token (the same as POST /v1/verify): the desk page with the verdict, or JSON with Accept: application/json", "tags": ["desk"], "security": [{"deskSession": []}],
      "requestBody": {"required": true, "content": {"application/x-www-form-urlencoded": {"schema": {"type": "object", "required": ["token", "csrf"], "properties": {"token": {"type": "string"}, "csrf": {"type": "string"}}}}}},
      "responses": {"200": {"description": "text/html, or {outcome, valid, serial, year, repaired}"}, "303": {"description": "Not signed in: Location /desk"}, "400": {"description": "No token"}, "401": {"description": "JSON: not signed in"}, "403": {"description": "The form's csrf is not this desk's"}}}},
    "/desk/signout": {"post": {"summary": "End this desk's session", "tags": ["desk"], "security": [{"deskSession": []}],
      "requestBody": {"required": true, "content": {"application/x-www-form-urlencoded": {"schema": {"type": "object", "required": ["csrf"], "properties": {"csrf": {"type": "string"}}}}}},
      "responses": {"303": {"description": "Signed out: Location /desk"}, "403": {"description": "text/html: the form's csrf is not this desk's"}}}},
    "/desk/sw.js": {"get": {"summary": "The desk's service worker (keeps the page, the JWK Set and the revocation list for offline use)", "tags": ["desk"], "responses": {"200": {"description": "text/javascript"}, "304": {"description": "Not modified"}}}},
    "/static/desk.js": {"get": {"summary": "The desk page's script: camera scanning, offline verification with WebCrypto", "tags": ["desk"], "responses": {"200": {"description": "text/javascript"}, "304": {"description": "Not modified"}}}},
    "/static/jsqr.js": {"get": {"summary": "jsQR 1.4.0 (Apache-2.0), the camera's QR decoder, served by this service", "tags": ["desk"], "responses": {"200": {"description": "text/javascript"}, "304": {"description": "Not modified"}}}},
    "/static/jsqr-license.txt": {"get": {"summary": "jsQR's licence", "tags": ["desk"], "responses": {"200": {"description": "text/plain"}}}},
    "/dashboard": {"get": {"summary": "The HTML adoption report for browsers; ?token=STAFF_TOKEN sets an HttpOnly cookie and redirects", "security": [{"staffCookie": []}, {"staffToken": []}],
      "parameters": [{"name": "token", "in": "query", "schema": {"type": "string"}}, {"name": "period", "in": "query", "schema": {"type": "string"}},
                     {"name": "by", "in": "query", "schema": {"type": "string"}}, {"name": "years", "in": "query", "schema": {"type": "string"}}],
      "responses": {"200": {"description": "text/html"}, "303": {"description": "Logged in; cookie set"}, "401": {"$ref": "#/components/responses/Problem"}}}}
  }
})json";
}

}  // namespace lk::api
