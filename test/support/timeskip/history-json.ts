/**
 * Workflow histories to and from Temporal's JSON form (proto3 JSON, the form of
 * `temporal workflow show --output json`). protobufjs is a direct dependency so that the SDK
 * packages share one copy; with two copies these converters throw "type must be a Type".
 */
import type * as proto from '@temporalio/proto';

export type History = proto.temporal.api.history.v1.IHistory;
export { historyFromJSON, historyToJSON } from '@temporalio/common/lib/proto-utils';
