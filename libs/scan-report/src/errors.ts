/**
 * The one error of scan reading. It is a @vexxy/platform InvalidFieldError, so any RPC edge
 * (the orchestrator's SubmitAnalysis) turns it into InvalidArgument with its field-naming
 * message, and a stage (reachability) can recognise it by class.
 */
import { InvalidFieldError, type VexxyErrorOptions } from "@vexxy/platform";

/**
 * The vulnerability report cannot be read: not JSON, an unknown format, or a field of the
 * wrong shape. `field` names the offending field (e.g. `vulnerability_report.matches[2].artifact.name`)
 * and the message starts with it, so the customer can fix the report. InvalidArgument at an RPC edge.
 */
export class ScanFormatError extends InvalidFieldError {
  constructor(field: string, problem: string, options: VexxyErrorOptions = {}) {
    super(field, `${field}: ${problem}`, options);
  }
}
