package gateway

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"
	"go.yaml.in/yaml/v3"
)

// OpenAPIYAML is the OpenAPI description of the API, as written: YAML, so that
// people can read and extend it (see its head for how to add a route).
//
//go:embed openapi.yaml
var OpenAPIYAML []byte

// OpenAPIPath is where the document is served, as JSON.
const OpenAPIPath = "/v1/openapi.json"

// openAPIJSON converts the embedded YAML document to the JSON served.
func openAPIJSON() ([]byte, error) {
	var doc any
	if err := yaml.Unmarshal(OpenAPIYAML, &doc); err != nil {
		return nil, fmt.Errorf("reading openapi.yaml: %w", err)
	}
	data, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("converting openapi.yaml to JSON: %w", err)
	}
	return data, nil
}

// openAPI serves the document; it needs no token, so that tools can fetch it.
func (s *Server) openAPI(c echo.Context) error {
	c.Response().Header().Set(echo.HeaderCacheControl, "no-cache")
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, s.openapi)
}
