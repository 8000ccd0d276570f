package store

import (
	"sync"

	"github.com/callout/callout"
)

// maxJobDocBytes bounds the documents docCache holds; past it, it starts
// afresh.
const maxJobDocBytes = 64 << 20

// docCache holds the documents of the jobs this process priced, so that a
// price does not read them again: the export alone is several kilobytes,
// which SQLite reads from overflow pages and PostgreSQL decompresses from
// TOAST on every read. A job's documents change only with its revision,
// which PutJob increments on every replacement, and the row's update time
// comes with them: both are read with the job's state on every price, so
// documents that changed, through any process, are never served from here.
// The zero value is an empty cache.
type docCache struct {
	mu    sync.Mutex
	jobs  map[docKey]*jobDocs
	bytes int
}

type docKey struct{ manufacturerID, jobID string }

// jobDocs are the documents of one job at one revision and update time.
type jobDocs struct {
	revision, updatedAt int64
	document, export    []byte
}

// of reports whether d are the documents of job as read.
func (d *jobDocs) of(job *callout.Job) bool {
	return d.revision == job.Revision && d.updatedAt == micros(job.UpdatedAt)
}

func (c *docCache) get(manufacturerID, jobID string) (*jobDocs, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.jobs[docKey{manufacturerID, jobID}]
	return d, ok
}

// put keeps job's documents, in place of any others of the job.
func (c *docCache) put(job *callout.Job) {
	d := &jobDocs{revision: job.Revision, updatedAt: micros(job.UpdatedAt), document: job.Document, export: job.Export}
	size := len(d.document) + len(d.export)
	if size > maxJobDocBytes/16 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	k := docKey{job.ManufacturerID, job.ID}
	if old, ok := c.jobs[k]; ok {
		c.bytes -= len(old.document) + len(old.export)
	}
	if c.jobs == nil || c.bytes+size > maxJobDocBytes {
		c.jobs, c.bytes = make(map[docKey]*jobDocs), 0
	}
	c.jobs[k] = d
	c.bytes += size
}
