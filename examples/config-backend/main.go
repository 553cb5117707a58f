// Command config-backend is an example configuration backend for edge's
// config_external: it answers GET /streams?node=NAME with the streams that
// a JSON file lists for that node, read again on each request, so editing
// the file adds, changes or removes streams on the nodes.
//
//	go run ./examples/config-backend -listen 127.0.0.1:9000 -file examples/config-backend/streams.json
//
// The file maps node names to answers: {"origin": {"streams": [...]}}. A
// node that the file does not name gets {"streams": []}. It ignores the
// name= query of edge's lookups and answers the node's whole list, from
// which edge takes the names it asked for.
package main

import (
	"encoding/json"
	"flag"
	"log"
	"net/http"
	"os"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:9000", "address to listen on")
	file := flag.String("file", "examples/config-backend/streams.json", "JSON file: node name -> {\"streams\": [...]}")
	flag.Parse()
	http.HandleFunc("GET /streams", func(w http.ResponseWriter, r *http.Request) {
		data, err := os.ReadFile(*file)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		var byNode map[string]json.RawMessage
		if err := json.Unmarshal(data, &byNode); err != nil {
			http.Error(w, "bad file: "+err.Error(), http.StatusInternalServerError)
			return
		}
		answer, ok := byNode[r.URL.Query().Get("node")]
		if !ok {
			answer = json.RawMessage(`{"streams":[]}`)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(answer)
	})
	log.Printf("configuration backend on http://%s/streams, streams from %s", *listen, *file)
	log.Fatal(http.ListenAndServe(*listen, nil))
}
