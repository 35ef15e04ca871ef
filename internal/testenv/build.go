package testenv

// GoBuildFlags are the flags a test passes to `go build` for the program
// it runs as a process: -race when the test itself runs under the race
// detector. The process is checked for races too, and its packages come
// from the build cache the test binary filled, so a cold `make test`
// compiles the dependency tree once (with -race) rather than twice.
func GoBuildFlags() []string {
	if Race {
		return []string{"-race"}
	}
	return nil
}
