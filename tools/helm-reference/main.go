// Command helm-reference is the reference the indexer's tests hold it to: helm's own pkg/repo
// (helm.sh/helm/v3 at the version setup-tools.sh builds helm from) loading, sorting, adding to and
// writing an index. Only the clock is pinned, so that the output is comparable byte for byte.
//
//	helm-reference roundtrip [--json] <index>
//	    repo.LoadIndexFile, SortEntries, WriteFile (or WriteJSONFile with --json); the file on stdout.
//	helm-reference add [--json] <index> <chart.tgz> <baseURL> <time>
//	    as roundtrip, with the chart added by MustAdd (loader.Load, provenance.DigestFile) before the
//	    sort; its `created` and the index's `generated` set to <time> (RFC 3339).
//
// A load or add error is printed on stderr with exit status 2 (helm refuses the input); anything else
// that fails exits 1.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/provenance"
	"helm.sh/helm/v3/pkg/repo"
)

func main() {
	args := os.Args[1:]
	asJSON := false
	if len(args) > 1 && args[1] == "--json" {
		asJSON = true
		args = append(args[:1], args[2:]...)
	}
	switch {
	case len(args) == 2 && args[0] == "roundtrip":
		index := load(args[1])
		write(index, asJSON)
	case len(args) == 5 && args[0] == "add":
		index := load(args[1])
		at, err := time.Parse(time.RFC3339Nano, args[4])
		if err != nil {
			fail(1, "time: %v", err)
		}
		add(index, args[2], args[3], at)
		write(index, asJSON)
	default:
		fail(1, "usage: helm-reference roundtrip [--json] <index> | add [--json] <index> <chart.tgz> <baseURL> <time>")
	}
}

func load(path string) *repo.IndexFile {
	index, err := repo.LoadIndexFile(path)
	if err != nil {
		fail(2, "%v", err)
	}
	return index
}

func add(index *repo.IndexFile, chartPath, baseURL string, at time.Time) {
	chart, err := loader.Load(chartPath)
	if err != nil {
		fail(1, "load chart: %v", err)
	}
	digest, err := provenance.DigestFile(chartPath)
	if err != nil {
		fail(1, "digest: %v", err)
	}
	if err := index.MustAdd(chart.Metadata, filepath.Base(chartPath), baseURL, digest); err != nil {
		fail(2, "%v", err)
	}
	for _, version := range index.Entries[chart.Metadata.Name] {
		if version.Digest == digest {
			version.Created = at
		}
	}
	index.SortEntries()
	index.Generated = at
}

func write(index *repo.IndexFile, asJSON bool) {
	dir, err := os.MkdirTemp("", "helm-reference-")
	if err != nil {
		fail(1, "%v", err)
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "index.yaml")
	if asJSON {
		err = index.WriteJSONFile(out, 0o644)
	} else {
		err = index.WriteFile(out, 0o644)
	}
	if err != nil {
		fail(1, "write: %v", err)
	}
	written, err := os.ReadFile(out)
	if err != nil {
		fail(1, "%v", err)
	}
	os.Stdout.Write(written)
}

func fail(status int, format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(status)
}
