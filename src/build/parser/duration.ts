// Go's time.ParseDuration, which Docker uses for HEALTHCHECK durations ("1m30s", "1.5h", "300ms"); the one
// implementation is in util. The parser reads a malformed duration as undefined and words its own error.
export { formatGoDuration, tryParseGoDuration as parseGoDuration } from '../../util/index.js';
