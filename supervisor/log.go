package supervisor

import (
	"fmt"
	"io"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// NewLogger returns a logger writing one line per event to w: JSON objects
// (format "json") or aligned text for humans ("console"). A line that cannot
// be written is dropped: a log pipe whose reader has gone must not stop
// PID 1 (NotifySignals keeps SIGPIPE from killing it).
func NewLogger(w io.Writer, format string) (*zap.Logger, error) {
	w = dropFailed{w}
	ec := zap.NewProductionEncoderConfig()
	ec.TimeKey = "ts"
	ec.EncodeTime = zapcore.RFC3339NanoTimeEncoder
	ec.EncodeDuration = zapcore.StringDurationEncoder
	var enc zapcore.Encoder
	switch format {
	case "json":
		enc = zapcore.NewJSONEncoder(ec)
	case "console":
		ec.EncodeLevel = zapcore.CapitalLevelEncoder
		ec.EncodeTime = zapcore.ISO8601TimeEncoder
		enc = zapcore.NewConsoleEncoder(ec)
	default:
		return nil, fmt.Errorf("log format %q: want json or console", format)
	}
	core := zapcore.NewCore(enc, zapcore.Lock(zapcore.AddSync(w)), zapcore.InfoLevel)
	return zap.New(core, zap.ErrorOutput(zapcore.AddSync(w))), nil
}

// dropFailed writes to w and reports success whatever happened: a failed log
// write is lost, not retried, and zap does not report it on the same broken
// stream.
type dropFailed struct{ w io.Writer }

func (d dropFailed) Write(p []byte) (int, error) {
	d.w.Write(p) // a failure is dropped on purpose
	return len(p), nil
}
