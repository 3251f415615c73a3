package training

// Message is the failure as one line for a job record: a Lambda failure's
// {"errorMessage": ...} cause is unwrapped (what MarkFailed records).
func (f StageFailure) Message() string { return failureMessage(f) }
