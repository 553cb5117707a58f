package s3store

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Root is a parsed `s3://BUCKET/PREFIX[?endpoint=URL&region=NAME]` archive
// root.
type Root struct {
	// Bucket is the bucket's name.
	Bucket string
	// Prefix is the key prefix under which streams live, without leading or
	// trailing '/'; empty for the bucket's top.
	Prefix string
	// Endpoint is the S3 endpoint URL (e.g. "http://127.0.0.1:7070"); empty
	// means the environment's AWS_ENDPOINT_URL, and without one, AWS.
	Endpoint string
	// Region is the signing region; empty means AWS_REGION (then
	// AWS_DEFAULT_REGION, then "us-east-1").
	Region string
}

// IsRoot reports whether root names an S3 archive (starts with "s3://").
func IsRoot(root string) bool { return strings.HasPrefix(root, "s3://") }

// ParseRoot parses an s3:// root. Only the endpoint and region query
// parameters are accepted; credentials never come from the topology.
func ParseRoot(root string) (Root, error) {
	if !IsRoot(root) {
		return Root{}, fmt.Errorf("s3 root %q: does not start with s3://", root)
	}
	u, err := url.Parse(root)
	if err != nil {
		return Root{}, fmt.Errorf("s3 root %q: %w", root, err)
	}
	if u.User != nil {
		return Root{}, fmt.Errorf("s3 root %q: credentials in the URL are not accepted; use AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY", root)
	}
	if u.Fragment != "" {
		return Root{}, fmt.Errorf("s3 root %q: has a fragment", root)
	}
	r := Root{Bucket: u.Host, Prefix: strings.Trim(u.Path, "/")}
	if err := checkBucket(r.Bucket); err != nil {
		return Root{}, fmt.Errorf("s3 root %q: %w", root, err)
	}
	if strings.Contains(r.Prefix, "//") {
		return Root{}, fmt.Errorf("s3 root %q: empty path element in prefix", root)
	}
	for _, el := range strings.Split(r.Prefix, "/") {
		if el == "." || el == ".." {
			return Root{}, fmt.Errorf("s3 root %q: prefix element %q", root, el)
		}
	}
	for k, v := range u.Query() {
		switch k {
		case "endpoint":
			e, err := url.Parse(v[0])
			if err != nil || (e.Scheme != "http" && e.Scheme != "https") || e.Host == "" || len(v) != 1 {
				return Root{}, fmt.Errorf("s3 root %q: endpoint must be one http:// or https:// URL", root)
			}
			r.Endpoint = v[0]
		case "region":
			if len(v) != 1 || v[0] == "" {
				return Root{}, fmt.Errorf("s3 root %q: region must be one non-empty value", root)
			}
			r.Region = v[0]
		default:
			return Root{}, fmt.Errorf("s3 root %q: unknown parameter %q (known: endpoint, region)", root, k)
		}
	}
	return r, nil
}

// checkBucket applies the S3 bucket naming rules that matter here: 3 to 63
// lower-case letters, digits, '.' and '-', starting and ending with a
// letter or digit.
func checkBucket(b string) error {
	if len(b) < 3 || len(b) > 63 {
		return fmt.Errorf("bucket %q must have 3 to 63 characters", b)
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-'
		if !ok {
			return fmt.Errorf("bucket %q has character %q; use lower-case letters, digits, '.' and '-'", b, c)
		}
	}
	if b[0] == '.' || b[0] == '-' || b[len(b)-1] == '.' || b[len(b)-1] == '-' {
		return fmt.Errorf("bucket %q must start and end with a letter or digit", b)
	}
	return nil
}

// key joins the root's prefix and the rest of an object key.
func (r Root) key(rest string) string {
	if r.Prefix == "" {
		return rest
	}
	return r.Prefix + "/" + rest
}

// Env is where a client's settings come from besides the root: by
// default, the process environment.
type Env func(string) string

// client builds a minio client for r. The endpoint and region are the
// root's, else AWS_ENDPOINT_URL and AWS_REGION (AWS_DEFAULT_REGION);
// credentials are AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
// AWS_SESSION_TOKEN. Buckets are addressed path-style when the endpoint's
// host is an IP address or localhost, virtual-host style on AWS.
func (r Root) client(env Env, rt http.RoundTripper) (*minio.Client, error) {
	if env == nil {
		env = os.Getenv
	}
	endpoint := r.Endpoint
	if endpoint == "" {
		endpoint = env("AWS_ENDPOINT_URL_S3")
	}
	if endpoint == "" {
		endpoint = env("AWS_ENDPOINT_URL")
	}
	if endpoint == "" {
		endpoint = "https://s3.amazonaws.com"
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("s3 endpoint %q: must be an http:// or https:// URL", endpoint)
	}
	region := r.Region
	for _, k := range []string{"AWS_REGION", "AWS_DEFAULT_REGION"} {
		if region == "" {
			region = env(k)
		}
	}
	if region == "" {
		region = "us-east-1"
	}
	lookup := minio.BucketLookupAuto
	if host := u.Hostname(); net.ParseIP(host) != nil || host == "localhost" {
		lookup = minio.BucketLookupPath
	}
	creds := credentials.NewStaticV4(env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY"), env("AWS_SESSION_TOKEN"))
	c, err := minio.New(u.Host, &minio.Options{
		Creds:        creds,
		Secure:       u.Scheme == "https",
		Region:       region,
		BucketLookup: lookup,
		Transport:    rt,
	})
	if err != nil {
		return nil, fmt.Errorf("s3 client for %s: %w", endpoint, err)
	}
	return c, nil
}
