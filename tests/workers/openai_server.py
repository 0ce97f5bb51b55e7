"""A small OpenAI-compatible server for the tests, answering from a real (tiny) model.

Every log-probability it returns is computed by the model it was given: the tests
check the ``openai`` backend against the model, not against numbers written here.
It speaks the parts of the vLLM dialect the backend uses: ``/v1/completions`` with
``logprobs``, ``prompt_logprobs`` (vLLM's extension; refused with HTTP 400 when the
server is started with ``prompt_logprobs=False``), ``return_tokens_as_token_ids``,
``stop_reason`` and ``min_tokens``; ``/v1/chat/completions`` with ``top_logprobs``.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from workers.prompting import render_prompt


class TinyModelServer:
    def __init__(self, model_dir, *, prompt_logprobs: bool = True, api_key: str | None = None):
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        self.model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
        self.context = self.model.config.n_positions
        self.prompt_logprobs = prompt_logprobs
        self.api_key = api_key
        self.lock = threading.Lock()
        self.requests: list[dict] = []
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                if server.api_key and self.headers.get("Authorization") != f"Bearer {server.api_key}":
                    return self._send(401, {"error": {"message": "invalid API key"}})
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                server.requests.append(body)
                try:
                    if self.path == "/v1/completions":
                        status, payload = server.completions(body)
                    elif self.path == "/v1/chat/completions":
                        status, payload = server.chat(body)
                    else:
                        status, payload = 404, {"error": {"message": f"no route {self.path}"}}
                except Exception as exc:
                    status, payload = 500, {"error": {"message": repr(exc)}}
                self._send(status, payload)

            def _send(self, status, payload):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler

    # -- model ---------------------------------------------------------------------------

    def _logprobs(self, ids: list[int]) -> torch.Tensor:
        with self.lock, torch.inference_mode():
            logits = self.model(input_ids=torch.tensor([ids])).logits[0].float()
        return torch.log_softmax(logits, dim=-1)

    def _name(self, tid: int, as_ids: bool) -> str:
        return f"token_id:{tid}" if as_ids else self.tokenizer.decode([tid])

    def _too_long(self, n: int):
        if n + 1 > self.context:
            return 400, {
                "error": {
                    "message": f"This model's maximum context length is {self.context} tokens; the prompt has {n}"
                }
            }
        return None

    def _generate(self, ids: list[int], body: dict, k: int, as_ids: bool):
        eos = self.tokenizer.eos_token_id
        gen = torch.Generator().manual_seed(int(body.get("seed") or 0))
        temperature = float(body.get("temperature", 1.0))
        top_p = float(body.get("top_p", 1.0))
        stops = body.get("stop") or []
        stops = [stops] if isinstance(stops, str) else stops
        min_tokens = int(body.get("min_tokens") or 0)
        out, chosen, tops = [], [], []
        finish, stop_reason = "length", None
        for step in range(int(body.get("max_tokens", 16))):
            if len(ids) + len(out) >= self.context:
                break
            lp = self._logprobs(ids + out)[-1]
            values, idx = torch.topk(lp, k)
            tops.append([(int(i), float(v)) for i, v in zip(idx, values)])
            masked = lp.clone()
            if step < min_tokens:
                masked[eos] = float("-inf")
            if temperature == 0:
                tid = int(masked.argmax())
            else:
                probs = torch.softmax(masked / temperature, dim=-1)
                sp, order = torch.sort(probs, descending=True)
                sp[(sp.cumsum(0) - sp) >= top_p] = 0
                tid = int(order[torch.multinomial(sp, 1, generator=gen)])
            out.append(tid)
            chosen.append(float(lp[tid]))
            if tid == eos:
                finish = "stop"
                break
            text = self.tokenizer.decode(out, skip_special_tokens=True)
            hit = [s for s in stops if s in text]
            if hit:
                finish, stop_reason = "stop", hit[0]
                break
        text = self.tokenizer.decode(out, skip_special_tokens=True)
        if stop_reason:
            text = text[: text.find(stop_reason)]
        tokens = [self._name(t, as_ids) for t in out]
        top_named = [{self._name(t, as_ids): v for t, v in row} for row in tops]
        return text, tokens, chosen, top_named, finish, stop_reason

    def completions(self, body: dict):
        prompt = body.get("prompt", "")
        ids = (
            list(prompt) if isinstance(prompt, list) else self.tokenizer(prompt, add_special_tokens=False)["input_ids"]
        )
        if err := self._too_long(len(ids)):
            return err
        k = int(body.get("logprobs") or 1)
        as_ids = bool(body.get("return_tokens_as_token_ids"))
        choice: dict = {"index": 0}
        if "prompt_logprobs" in body:
            if not self.prompt_logprobs:
                return 400, {"error": {"message": "Unrecognized request argument supplied: prompt_logprobs"}}
            pk = int(body["prompt_logprobs"])
            lp = self._logprobs(ids)
            rows = [None]
            for pos in range(1, len(ids)):
                row_lp = lp[pos - 1]
                values, idx = torch.topk(row_lp, pk)
                entry = {
                    str(int(i)): {"logprob": float(v), "rank": r + 1, "decoded_token": self.tokenizer.decode([int(i)])}
                    for r, (i, v) in enumerate(zip(idx, values))
                }
                actual = ids[pos]
                if str(actual) not in entry:
                    rank = int((row_lp > row_lp[actual]).sum()) + 1
                    entry[str(actual)] = {
                        "logprob": float(row_lp[actual]),
                        "rank": rank,
                        "decoded_token": self.tokenizer.decode([actual]),
                    }
                rows.append(entry)
            choice["prompt_logprobs"] = rows
        text, tokens, chosen, tops, finish, stop_reason = self._generate(ids, body, k, as_ids)
        offsets, pos = [], 0
        for t in tokens:
            offsets.append(pos)
            pos += len(t)
        choice.update(
            text=text,
            finish_reason=finish,
            stop_reason=stop_reason,
            logprobs={"tokens": tokens, "token_logprobs": chosen, "top_logprobs": tops, "text_offset": offsets},
        )
        return 200, {
            "object": "text_completion",
            "model": body.get("model"),
            "choices": [choice],
            "usage": {"prompt_tokens": len(ids), "completion_tokens": len(tokens)},
        }

    def chat(self, body: dict):
        rendered = render_prompt(self.tokenizer, body.get("messages") or [])
        ids = self.tokenizer(rendered, add_special_tokens=False)["input_ids"]
        if err := self._too_long(len(ids)):
            return err
        k = int(body.get("top_logprobs") or 1)
        as_ids = bool(body.get("return_tokens_as_token_ids"))
        text, tokens, chosen, tops, finish, stop_reason = self._generate(ids, body, k, as_ids)
        content = [
            {"token": t, "logprob": c, "top_logprobs": [{"token": n, "logprob": v} for n, v in top.items()]}
            for t, c, top in zip(tokens, chosen, tops)
        ]
        return 200, {
            "object": "chat.completion",
            "model": body.get("model"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": finish,
                    "stop_reason": stop_reason,
                    "logprobs": {"content": content},
                }
            ],
        }
