package main

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgedvr/edge/internal/testkit"
)

// replAnswer is the whole replication object of /api/v1/streams/{name}.
type replAnswer struct {
	Replication *struct {
		Source          string  `json:"source"`
		SegmentsCopied  int64   `json:"segments_copied"`
		BytesCopied     int64   `json:"bytes_copied"`
		SegmentsMissing int64   `json:"segments_missing"`
		SecondsMissing  float64 `json:"seconds_missing"`
		Conflicts       int64   `json:"conflicts"`
		Rate            int64   `json:"rate"`
		ETASeconds      int64   `json:"eta_seconds"`
		CaughtUp        bool    `json:"caught_up"`
		LastError       string  `json:"last_error"`
		LastErrorAt     int64   `json:"last_error_at"`
	} `json:"replication"`
}

// replicationRow is a row of the overview's replication table.
type replicationRow struct {
	Name  string            `json:"name"`
	Cells []string          `json:"cells"`
	Data  map[string]string `json:"data"`
}

// TestOverviewReplicationInBrowser opens the overview of a secondary that
// replicates a primary's archive (dvr replicate): once the job has caught
// up and then lost its source (the primary killed), the replication table
// shows the source, what was copied, nothing missing, caught up and the
// last error, as /api/v1/streams reports them before and after the page
// was read. Both answers, with and without an error, are checked against
// openapi.json.
func TestOverviewReplicationInBrowser(t *testing.T) {
	t.Parallel()
	sample, err := filepath.Abs("../../examples/topologies/sample.ts")
	if err != nil {
		t.Fatal(err)
	}
	tp := testkit.NewTopology(t, replKey)
	pRoot, sRoot := tp.Dir+"/primary", tp.Dir+"/secondary"
	tp.Node(t, "primary", testkit.StreamBlock("cam", []string{"file://" + sample},
		`segment_duration = "1s"`, fmt.Sprintf("dvr = { root = %q, depth = \"1h\" }", pRoot)))
	tp.Node(t, "secondary", testkit.StreamBlock("cam", []string{"m4f://primary/cam"},
		`segment_duration = "1s"`, fmt.Sprintf("dvr = { root = %q, depth = \"1h\", replicate = true }", sRoot)))
	path := tp.Write(t)
	primary := tp.Start(t, path, "primary")
	chWaitRecorded(t, primary.URL, "cam", 10, 40*time.Second)
	secondary := tp.Start(t, path, "secondary")

	api := func() replAnswer {
		t.Helper()
		var a replAnswer
		if !testkit.JSON(secondary.URL+"/api/v1/streams/cam", &a) || a.Replication == nil {
			t.Fatalf("/api/v1/streams/cam on the secondary has no replication object: %+v", a)
		}
		return a
	}
	testkit.Eventually(t, 30*time.Second, "the secondary to copy and catch up", func() bool {
		var a replAnswer
		return testkit.JSON(secondary.URL+"/api/v1/streams/cam", &a) && a.Replication != nil &&
			a.Replication.CaughtUp && a.Replication.SegmentsCopied > 0
	})
	_, check := openAPICheck(t, secondary.URL, replKey)
	check("GET", "/api/v1/streams", false, 200)
	check("GET", "/api/v1/streams/cam", false, 200)

	primary.Kill()
	testkit.Eventually(t, 20*time.Second, "the secondary to report its source down", func() bool {
		var a replAnswer
		return testkit.JSON(secondary.URL+"/api/v1/streams/cam", &a) && a.Replication != nil && a.Replication.LastError != ""
	})
	check("GET", "/api/v1/streams", false, 200) // now with last_error and last_error_at
	check("GET", "/api/v1/streams/cam", false, 200)

	before := api().Replication
	run := runOverview(t, "replication.png", "--url", secondary.URL+"/", "--replication", "cam", "--timeout", "20")
	after := api().Replication

	if len(run.ReplicationRows) != 1 || run.ReplicationRows[0].Name != "cam" || len(run.ReplicationRows[0].Cells) != 8 {
		t.Fatalf("replication table %+v, want one row of 8 cells for cam", run.ReplicationRows)
	}
	row := run.ReplicationRows[0]
	num := func(key string) float64 {
		t.Helper()
		v, err := strconv.ParseFloat(row.Data[key], 64)
		if err != nil {
			t.Fatalf("data-%s = %q: %v", key, row.Data[key], err)
		}
		return v
	}
	between := func(what string, got, a, b float64) {
		t.Helper()
		if got < min(a, b) || got > max(a, b) {
			t.Errorf("page shows %s %v; /api/v1/streams said %v before the page was read and %v after", what, got, a, b)
		}
	}

	// The source is the primary's listen address, from the topology.
	if src := tp.Listen["primary"]; row.Cells[1] != src || before.Source != src || after.Source != src {
		t.Errorf("source: page %q, API %q/%q; want the primary at %s", row.Cells[1], before.Source, after.Source, src)
	}
	copied := num("segmentsCopied")
	between("segments copied", copied, float64(before.SegmentsCopied), float64(after.SegmentsCopied))
	between("bytes copied", num("bytesCopied"), float64(before.BytesCopied), float64(after.BytesCopied))
	if copied < 1 || !strings.HasPrefix(row.Cells[2], fmt.Sprintf("%.0f segments, ", copied)) {
		t.Errorf("copied cell %q for %v segments; want at least one, shown", row.Cells[2], copied)
	}
	missing := num("segmentsMissing")
	between("segments missing", missing, float64(before.SegmentsMissing), float64(after.SegmentsMissing))
	between("seconds missing", num("secondsMissing"), before.SecondsMissing, after.SecondsMissing)
	if missing == 0 && row.Cells[3] != "none" {
		t.Errorf("missing cell %q with nothing missing, want none", row.Cells[3])
	}
	between("rate", num("rate"), float64(before.Rate), float64(after.Rate))
	between("ETA", num("etaSeconds"), float64(before.ETASeconds), float64(after.ETASeconds))
	// Caught up before the primary died, and nothing since can undo it.
	if !before.CaughtUp || !after.CaughtUp || row.Data["caughtUp"] != "true" || row.Cells[6] != "caught up" {
		t.Errorf("state cell %q (data %q), API caught_up %v/%v; want caught up", row.Cells[6], row.Data["caughtUp"], before.CaughtUp, after.CaughtUp)
	}
	// The error text names the failed call, with its times in it: the
	// page's is the one the API had at the same last_error_at, or, from a
	// pass between the two answers, the same text but for its numbers.
	at := num("lastErrorAt")
	between("last error time", at, float64(before.LastErrorAt), float64(after.LastErrorAt))
	shown, ok := row.Cells[7], false
	if i := strings.LastIndex(shown, " ("); i >= 0 {
		// "(N s ago)", or "(now)" for an error less than a second old.
		shown, ok = shown[:i], strings.HasSuffix(shown, " ago)") || strings.HasSuffix(shown, " (now)")
	}
	switch {
	case !ok || !strings.Contains(shown, "dial tcp "+tp.Listen["primary"]):
		t.Errorf("last error cell %q: want the failed dial to the primary and how long ago", row.Cells[7])
	case at == float64(before.LastErrorAt) && shown != before.LastError,
		at == float64(after.LastErrorAt) && shown != after.LastError,
		numbersAsN(shown) != numbersAsN(before.LastError) && numbersAsN(shown) != numbersAsN(after.LastError):
		t.Errorf("last error cell %q at %v; /api/v1/streams said %q at %d, then %q at %d",
			row.Cells[7], at, before.LastError, before.LastErrorAt, after.LastError, after.LastErrorAt)
	}
}

// numbersAsN replaces every run of digits in s with N: two errors of the
// same call at different times then read the same.
func numbersAsN(s string) string { return digits.ReplaceAllString(s, "N") }

var digits = regexp.MustCompile(`[0-9]+`)
