package recovery

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/tfguard/tf/tfargs"
)

// A Watch runs beside a guarded terraform command on an S3 backend. It
// reads, in the background and with the credentials terraform's backend
// uses, the lock records (DynamoDB item, .tflock object) and, once at the
// start, the state object's identity. What it saw is the evidence recovery
// may act on later: a lock record tf itself observed while its terraform
// ran, and the state the run started from. It adds no wall time to the run:
// the wrapper starts it before terraform and stops it after terraform has
// exited; every read has a deadline.

// Sighting is one lock record as the watch saw it.
type Sighting struct {
	Lock  Lock      `json:"lock"`
	First time.Time `json:"first_seen"`
	Last  time.Time `json:"last_seen"`
	// Gone: a later read found no record after this one.
	Gone bool `json:"gone,omitempty"`
}

// KindWatch is what the watch saw of one lock kind.
type KindWatch struct {
	Sightings []Sighting `json:"sightings,omitempty"`
	// LastRead is the time of the last successful read; LastID what it saw
	// ("" = no record).
	LastRead time.Time `json:"last_read,omitempty"`
	LastID   string    `json:"last_id,omitempty"`
	Reads    int       `json:"reads"`
	Failures int       `json:"failures,omitempty"`
	// LastError is the last read error (AWS error text, no secrets).
	LastError string `json:"last_error,omitempty"`
}

// last is the most recent sighting, nil when none.
func (k *KindWatch) last() *Sighting {
	if k == nil || len(k.Sightings) == 0 {
		return nil
	}
	return &k.Sightings[len(k.Sightings)-1]
}

// StateSighting is one state object as the watch saw it.
type StateSighting struct {
	Object StateObject `json:"object"`
	First  time.Time   `json:"first_seen"`
}

// LastState is the state object the watch saw last while the run ran (the
// start state when the run wrote nothing the watch saw), nil when unknown.
func (o *Observation) LastState() *StateObject {
	if o == nil {
		return nil
	}
	if n := len(o.States); n > 0 {
		return &o.States[n-1].Object
	}
	return o.StartState
}

// FileStamp identifies a file at one moment.
type FileStamp struct {
	Size    int64     `json:"size"`
	ModTime time.Time `json:"mod_time"`
	SHA256  string    `json:"sha256"`
}

// Observation is what tf saw around one run. The journal keeps it.
type Observation struct {
	Started time.Time `json:"started"`
	// TakesLock: the command takes the state lock (not -lock=false).
	TakesLock bool `json:"takes_lock"`
	// Errored is errored.tfstate in the working directory before the run
	// (nil: there was none).
	Errored *FileStamp `json:"errored_before,omitempty"`
	// StartState is the state object when the run started (nil: unknown).
	StartState *StateObject `json:"start_state,omitempty"`
	// States are the state objects the watch saw while the run ran, in
	// order (a new entry each time the object changed): the run's own
	// intermediate saves.
	States []StateSighting `json:"states,omitempty"`
	// Locks by kind ("dynamodb", "lockfile").
	Locks map[string]*KindWatch `json:"locks,omitempty"`
}

// Watch is a running observation; Stop ends it.
type Watch struct {
	mu     sync.Mutex
	obs    Observation
	cancel context.CancelFunc
	done   chan struct{}
}

// stampFile identifies path, nil when it does not exist.
func stampFile(path string) *FileStamp {
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() {
		return nil
	}
	st := &FileStamp{Size: fi.Size(), ModTime: fi.ModTime().UTC()}
	if raw, err := os.ReadFile(path); err == nil {
		sum := sha256.Sum256(raw)
		st.SHA256 = hex.EncodeToString(sum[:])
	}
	return st
}

// watchSchedule is how long to wait before each read: close together while
// terraform takes its lock, then every few seconds.
func watchSchedule(n int) time.Duration {
	switch {
	case n < 30:
		return 100 * time.Millisecond
	case n < 60:
		return time.Second
	}
	return 5 * time.Second
}

// StartWatch starts watching the state of the run about to start in dir.
// args are terraform's arguments (for -lock=false). It returns nil when
// there is nothing to watch (not an S3 backend, recovery disabled by the
// test hook); a nil *Watch is safe to Stop.
func StartWatch(dir string, env, args []string, now func() time.Time) *Watch {
	if now == nil {
		now = time.Now
	}
	b, err := LoadBackend(dir, env)
	w := &Watch{done: make(chan struct{})}
	w.obs = Observation{Started: now().UTC(), TakesLock: tfargs.Parse(args).TakesLock(),
		Errored: stampFile(filepath.Join(dir, erroredFile))}
	if err != nil || !b.IsS3() || testNoObserve(env) {
		close(w.done)
		return w
	}
	w.obs.Locks = map[string]*KindWatch{}
	for _, k := range b.LockModes() {
		w.obs.Locks[k] = &KindWatch{}
	}
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	go w.loop(ctx, func(ctx context.Context) (backendReader, error) { return newAWSBackend(ctx, b, env) }, now)
	return w
}

func (w *Watch) loop(ctx context.Context, open func(context.Context) (backendReader, error), now func() time.Time) {
	defer close(w.done)
	// The watch runs beside terraform, whose output passes through tf: a
	// bug here must end the watch (which then proves nothing), never tf.
	defer func() {
		if v := recover(); v != nil {
			w.mu.Lock()
			defer w.mu.Unlock()
			for _, k := range w.obs.Locks {
				k.Failures++
				k.LastError = fmt.Sprintf("tf internal error, the watch stopped: %v", v)
			}
		}
	}()
	rd, err := open(ctx)
	if err != nil {
		w.mu.Lock()
		for _, k := range w.obs.Locks {
			k.Failures++
			k.LastError = err.Error()
		}
		w.mu.Unlock()
		return
	}
	if so, err := rd.StateObject(ctx); err == nil {
		w.mu.Lock()
		w.obs.StartState = &so
		w.mu.Unlock()
	}
	for n := 0; ; n++ {
		w.read(ctx, rd, now)
		if n >= 30 || n%10 == 0 {
			// terraform saves the state every 20 s while it applies: what
			// the run wrote itself is what recovery may later push over.
			w.readState(ctx, rd, now)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(watchSchedule(n)):
		}
	}
}

// read takes one reading of the lock records.
func (w *Watch) read(ctx context.Context, rd backendReader, now func() time.Time) {
	locks, err := rd.ReadLocks(ctx)
	at := now().UTC()
	if ctx.Err() != nil {
		return // stopped mid-read: the result says nothing about "now"
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for kind, kw := range w.obs.Locks {
		kw.Reads++
		if err != nil {
			kw.Failures++
			kw.LastError = err.Error()
			continue
		}
		kw.LastRead = at
		l := locks.Kind(kind)
		if l == nil {
			kw.LastID = ""
			if last := kw.last(); last != nil {
				last.Gone = true
			}
			continue
		}
		kw.LastID = l.Info.ID
		if s := kw.last(); s != nil && s.Lock.Same(l) {
			s.Last = at
			continue
		}
		kw.Sightings = append(kw.Sightings, Sighting{Lock: *l, First: at, Last: at})
	}
}

// readState takes one reading of the state object's identity.
func (w *Watch) readState(ctx context.Context, rd backendReader, now func() time.Time) {
	so, err := rd.StateObject(ctx)
	at := now().UTC()
	if err != nil || ctx.Err() != nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if last := w.obs.LastState(); last != nil && last.Same(so) {
		return
	}
	w.obs.States = append(w.obs.States, StateSighting{Object: so, First: at})
}

// Stop ends the watch and returns what it saw. It waits for a read in
// flight to end (each has a deadline).
func (w *Watch) Stop() *Observation {
	if w == nil {
		return nil
	}
	if w.cancel != nil {
		w.cancel()
	}
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	obs := w.obs
	return &obs
}
