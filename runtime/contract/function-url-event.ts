/**
 * The Lambda function URL event and result shapes (payload format 2.0, the HTTP API's), as AWS
 * sends them to the publish function and as `local/services/publish-endpoint.ts` builds them.
 */

interface FunctionUrlRequestContext {
  accountId: string;
  /** The URL id: `https://{apiId}.lambda-url.{region}.on.aws`. */
  apiId: string;
  domainName: string;
  domainPrefix: string;
  http: { method: string; path: string; protocol: string; sourceIp: string; userAgent: string };
  requestId: string;
  /** Always `$default` for function URLs. */
  routeKey: string;
  /** Always `$default` for function URLs. */
  stage: string;
  /** `01/Dec/2026:00:00:00 +0000` */
  time: string;
  /** Epoch ms when the request arrived. */
  timeEpoch: number;
  /** Set with `AWS_IAM` auth: who signed the request. */
  authorizer?: { iam?: { accessKey?: string; accountId?: string; callerId?: string; userArn?: string; userId?: string } };
}

export interface FunctionUrlEvent {
  version: "2.0";
  routeKey: string;
  rawPath: string;
  /** Without the `?`; empty when there is none. */
  rawQueryString: string;
  /** Lower-case names; repeated headers joined with commas. */
  headers: Record<string, string | undefined>;
  /** Absent when there is no query string; repeated parameters joined with commas. */
  queryStringParameters?: Record<string, string | undefined>;
  requestContext: FunctionUrlRequestContext;
  /** Absent when the request has no body. */
  body?: string;
  /** True when Lambda base64-encoded a body it did not take for text. */
  isBase64Encoded: boolean;
}

/** What the function returns; Lambda turns it into the HTTP response. */
export interface FunctionUrlResult {
  statusCode: number;
  headers?: Record<string, string>;
  body?: string;
}

export type FunctionUrlHandler = (event: FunctionUrlEvent) => Promise<FunctionUrlResult>;
