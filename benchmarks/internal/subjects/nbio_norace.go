//go:build !race

package subjects

import "github.com/lesismal/nbio/nbhttp"

// raceShim does nothing outside race builds (see nbio_race.go).
func raceShim(*nbhttp.Engine) {}
