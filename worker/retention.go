package worker

import "time"

// resultTTL is how long j's done record is kept: Config.RejectedResultTTL
// for a rejection, Config.ResultTTL otherwise.
func (w *Worker) resultTTL(j *job) time.Duration {
	if j.rejected {
		return w.cfg.RejectedResultTTL
	}
	return w.cfg.ResultTTL
}
