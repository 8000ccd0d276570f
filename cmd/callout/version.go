package main

import (
	"runtime/debug"
)

// version is set at build time with -ldflags "-X main.version=…"; the
// Dockerfile stamps it. Unstamped builds take it from the build information.
var version = "dev"

// buildVersion is the stamped version or, when there is none, the module's
// version (go install …@v1.2.3) or the git commit the binary was built from
// (go build in a checkout), with "-dirty" for uncommitted changes.
func buildVersion() string {
	bi, _ := debug.ReadBuildInfo()
	return versionOf(version, bi)
}

// versionOf is buildVersion with its inputs given.
func versionOf(stamped string, bi *debug.BuildInfo) string {
	if stamped != "" && stamped != "dev" {
		return stamped
	}
	if bi == nil {
		return "dev"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev == "" {
		return "dev"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if modified == "true" {
		rev += "-dirty"
	}
	return "dev-" + rev
}
