package loss

import (
	"errors"
	"fmt"
)

var (
	// ErrLabel is a label outside [0, K) that is not the ignored label.
	ErrLabel = errors.New("label out of range")
	// ErrNonFinite is a NaN or infinite value where a finite one is needed.
	ErrNonFinite = errors.New("non-finite value")
	// ErrNegative is a negative target probability.
	ErrNegative = errors.New("negative probability")
	// ErrShape is an input whose shape does not fit the others.
	ErrShape = errors.New("shape mismatch")
	// ErrOption is an option that the loss does not take.
	ErrOption = errors.New("option not supported")
)

// An InputError names the row (and column, when one is at fault) of bad input.
// It wraps ErrLabel, ErrNonFinite or ErrNegative.
type InputError struct {
	Loss  string  // which loss, e.g. "softmax cross-entropy"
	Row   int     // the row n
	Col   int     // the column k, or -1 when the row's label is at fault
	Value float64 // the offending label or value
	Err   error
}

func (e *InputError) Error() string {
	if e.Col < 0 {
		return fmt.Sprintf("loss: %s: row %d: label %v: %v", e.Loss, e.Row, e.Value, e.Err)
	}
	return fmt.Sprintf("loss: %s: row %d, column %d: %v: %v", e.Loss, e.Row, e.Col, e.Value, e.Err)
}

func (e *InputError) Unwrap() error { return e.Err }

// FromMachine returns the error that a Gorgonia machine's RunAll wrapped, so that errors.Is
// and errors.As reach an *InputError: the machine's wrapper has no Unwrap method, only Err.
// Other errors are returned as they are.
func FromMachine(err error) error {
	if m, ok := err.(interface{ Err() error }); ok && m.Err() != nil {
		return m.Err()
	}
	return err
}
