// Benchmark inputs (~10, ~32, ~128 tokens with the E5 prefix and special tokens).
// Copied from tests/fixtures/sentences.jsonl so the browser page needs no fixture files.
export const TEXTS = [
  {
    "name": "short",
    "target": 10,
    "kind": "query",
    "source": "query 'how to reset my password'",
    "text": "how to reset my password"
  },
  {
    "name": "medium",
    "target": 32,
    "kind": "passage",
    "source": "tests/fixtures/sentences.jsonl s072 (de)",
    "text": "Ein Abonnement kann bis spätestens sieben Tage vor der Verlängerung gekündigt werden. Danach verlängert es sich automatisch um einen weiteren Monat."
  },
  {
    "name": "long",
    "target": 128,
    "kind": "passage",
    "source": "tests/fixtures/sentences.jsonl s010 (en) + s052 (fr) + s073 (de)",
    "text": "Every webhook request includes a signature header. Compute an HMAC of the raw request body with your signing secret and compare it to the header value before trusting the payload. Pour créer un webhook, indiquez une URL HTTPS publique et choisissez les événements qui vous intéressent. Nous enverrons une requête POST à chaque événement. Wird ein Webhook nicht ausgelöst, prüfen Sie zuerst, ob das Ereignis in den Einstellungen aktiviert ist und ob Ihr Server mit einem Statuscode 2xx antwortet."
  }
];

// Token-length sweep (Node only, fewer runs): how latency grows with input length.
export const SWEEP = [
  {
    "name": "sweep16",
    "target": 16,
    "kind": "passage",
    "source": "tests/fixtures/sentences.jsonl s021 (en), cut at a token boundary",
    "text": "Setting up webhooks: a complete guide Webho"
  },
  {
    "name": "sweep64",
    "target": 64,
    "kind": "passage",
    "source": "tests/fixtures/sentences.jsonl s021 (en), cut at a token boundary",
    "text": "Setting up webhooks: a complete guide Webhooks let your application receive a notification the moment something happens in your account, instead of asking our API over and over whether anything has changed. When an event occurs, such as a payment succeeding, a subscription being renewed or"
  },
  {
    "name": "sweep128",
    "target": 128,
    "kind": "passage",
    "source": "tests/fixtures/sentences.jsonl s021 (en), cut at a token boundary",
    "text": "Setting up webhooks: a complete guide Webhooks let your application receive a notification the moment something happens in your account, instead of asking our API over and over whether anything has changed. When an event occurs, such as a payment succeeding, a subscription being renewed or a customer updating their profile, we send an HTTP POST request to the URL you registered. The body of the request is a JSON object that describes the event. Before you create a webhook, make sure you have an endpoint that is reachable from the public internet over HTTPS. Plain"
  },
  {
    "name": "sweep192",
    "target": 192,
    "kind": "passage",
    "source": "tests/fixtures/sentences.jsonl s021 (en), cut at a token boundary",
    "text": "Setting up webhooks: a complete guide Webhooks let your application receive a notification the moment something happens in your account, instead of asking our API over and over whether anything has changed. When an event occurs, such as a payment succeeding, a subscription being renewed or a customer updating their profile, we send an HTTP POST request to the URL you registered. The body of the request is a JSON object that describes the event. Before you create a webhook, make sure you have an endpoint that is reachable from the public internet over HTTPS. Plain HTTP addresses are rejected, and so are addresses that point to private networks. If you are developing on your own laptop, you can use a tunnelling tool to expose a local port temporarily, but remember to replace that address with a permanent one before going live. To register an endpoint,"
  },
  {
    "name": "sweep256",
    "target": 256,
    "kind": "passage",
    "source": "tests/fixtures/sentences.jsonl s021 (en), cut at a token boundary",
    "text": "Setting up webhooks: a complete guide Webhooks let your application receive a notification the moment something happens in your account, instead of asking our API over and over whether anything has changed. When an event occurs, such as a payment succeeding, a subscription being renewed or a customer updating their profile, we send an HTTP POST request to the URL you registered. The body of the request is a JSON object that describes the event. Before you create a webhook, make sure you have an endpoint that is reachable from the public internet over HTTPS. Plain HTTP addresses are rejected, and so are addresses that point to private networks. If you are developing on your own laptop, you can use a tunnelling tool to expose a local port temporarily, but remember to replace that address with a permanent one before going live. To register an endpoint, open the Developers section of the dashboard, choose Webhooks and click Add endpoint. Enter the URL, pick the events you want to receive, and save. You can subscribe to individual events or to whole categories, but we recommend selecting only the events your code actually handles. Every extra event"
  },
  {
    "name": "sweep384",
    "target": 384,
    "kind": "passage",
    "source": "tests/fixtures/sentences.jsonl s021 (en), cut at a token boundary",
    "text": "Setting up webhooks: a complete guide Webhooks let your application receive a notification the moment something happens in your account, instead of asking our API over and over whether anything has changed. When an event occurs, such as a payment succeeding, a subscription being renewed or a customer updating their profile, we send an HTTP POST request to the URL you registered. The body of the request is a JSON object that describes the event. Before you create a webhook, make sure you have an endpoint that is reachable from the public internet over HTTPS. Plain HTTP addresses are rejected, and so are addresses that point to private networks. If you are developing on your own laptop, you can use a tunnelling tool to expose a local port temporarily, but remember to replace that address with a permanent one before going live. To register an endpoint, open the Developers section of the dashboard, choose Webhooks and click Add endpoint. Enter the URL, pick the events you want to receive, and save. You can subscribe to individual events or to whole categories, but we recommend selecting only the events your code actually handles. Every extra event type means more traffic for your server and more noise in your logs. Each request we send includes a signature header. The signature is an HMAC-SHA256 digest computed over the raw request body with a secret that is unique to your endpoint. Your code should compute the same digest and compare it with the header using a constant-time comparison. If the values do not match, discard the request: it may have been sent by someone else or modified on the way. Always verify the signature against the raw bytes you received, not against a re-serialised"
  }
];
