"""Features of a conversation, shared by training and inference of the local classifier.

``extract(conversation)`` returns a sparse ``{name: value}`` dict; a model is a weight per
name. Names carry a prefix saying what they are:

- ``s:`` structure (length, turns, code, math, lists, tools, language);
- ``f:`` task-type families of the ask (proof, math, design, code, lookup, ...), from a
  small multilingual lexicon; ``p:`` the same in pasted material, ``c:`` in earlier turns;
- ``w:`` / ``b:`` word unigrams / bigrams of the ask (CJK as character bigrams).

The ask is the latest user message without pasted material (``split_instruction``); a
follow-up also carries the thread's families and words at ``CONTEXT_WEIGHT``. The
structural and family features say which *kinds* of task are hard, which transfers to
unseen topics; the n-grams learn the rest from labeled traffic. Words aimed at the
router ("simple", "tier", "gpt-4o", ...) are never features, so text that talks to the
router cannot move the score. Reading stops after a few thousand characters, so the
cost per request is bounded.
"""

from __future__ import annotations

import math
import re
from itertools import pairwise

from ._messages import Conversation

_SCAN = 3000  # characters of the ask read from the start (and _TAIL from the end):
_TAIL = 1000  # longer asks only add length, which keeps the cost per request bounded
_CTX_SCAN = 2000
CONTEXT_WEIGHT = 0.6  # how much of the thread's features a follow-up inherits

_WORD = re.compile(r"\w+")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
# Regexes run only behind cheap guards (a newline, a digit, ...): most asks are short
# prose, and the p99 budget is well under a millisecond.
_CODE_LINE = re.compile(
    r"^\s*(?:def |class |import |from \S+ import|return\b|if \(|for \(|while \(|"
    r"function\b|const |let |var |public |private |#include|SELECT |INSERT |UPDATE |"
    r"CREATE |fn |func |package |\}|\{$|@\w+|<\w+[ >/])|[;{]\s*$",
    re.MULTILINE,
)
_TRACE_MARKERS = ("Traceback", "Exception", "Error", "error:", "panic:", "Segmentation",
                  "stack trace", "errno", "exit code", "line ")
_MATH_CHARS = re.compile(r"[∑∫√≤≥≠≈∞∂∇∀∃∈⊂⊃∪∩→⇒⇔±×÷πθλσμ^]")
_EQUATION = re.compile(r"[-+*/^=<>]\s*\(?-?\d")
_LIST = re.compile(r"^\s*(?:\d+[.)]|[-*•]|[a-z][.)])\s+", re.MULTILINE)
_OPTION = re.compile(r"^\s*[A-Ea-e][.)]\s", re.MULTILINE)
_SENTENCE = re.compile(r"[.!?。！？](?:\s|$)")

# Task-type families: (name, single words, multi-word phrases, CJK substrings). Words are
# matched on whole tokens of the lowercased ask; phrases and CJK as substrings.
_FAMILIES: tuple[tuple[str, str, tuple[str, ...], str], ...] = (
    ("greet",
     "hi hello hey thanks thank thx cheers hola gracias hallo danke bonjour merci salut ciao "
     "grazie olá obrigado obrigada привет спасибо здравствуйте",
     ("good morning", "good night", "buenos días", "guten morgen"),
     "你好 谢谢 こんにちは ありがとう 안녕 감사 고마워"),
    ("lookup",
     "define definition meaning mean synonym antonym spell spelling capital abbreviation "
     "acronym stands significa bedeutet signifie significato significado",
     ("what is", "what's", "what are", "who is", "who was", "who wrote", "when is", "when was",
      "when did", "where is", "how many", "how much is", "what does", "qué es", "quién es",
      "cuál es", "dónde está", "was ist", "wer ist", "wo ist", "wann ", "qu'est-ce",
      "qui est", "où est", "quelle est", "quel est", "what time", "что такое", "o que é",
      "cos'è"),
     "什么是 是什么 谁是 哪里 多少 意思 とは 何ですか 誰 どこ 무엇 뭐야 뜻"),
    ("transform",
     "translate translation convert format reformat rephrase paraphrase proofread typo typos "
     "grammar capitalize shorten traduce traducir traduis traduire übersetze übersetzen "
     "uppercase lowercase traduci traduza переведи исправь corrigir correggi",
     ("fix the grammar", "make it shorter", "in spanish", "in french", "in german",
      "into english"),
     "翻译 翻訳 改写 润色 번역 고쳐"),
    ("support",
     "password login account subscription invoice billing refund cancel reset unsubscribe "
     "username email settings plan upgrade downgrade senha пароль аккаунт подписка "
     "abbonamento assinatura",
     ("how do i", "how can i", "where can i", "how to"),
     "密码 账户 退款 パスワード 비밀번호 계정 환불"),
    ("explain",
     "explain explanation compare comparison difference differences why summarize summary "
     "summarise describe overview versus vs explica explicar compara diferencia erkläre "
     "erklären vergleiche unterschied warum explique expliquer différence pourquoi spiega "
     "perché объясни почему зачем",
     ("pros and cons", "how does", "how do", "por qué", "what happens", "por que"),
     "解释 比较 区别 为什么 总结 説明 比較 違い なぜ 要約 설명 차이"),
    ("write",
     "write draft compose email letter essay blog post poem story outline tweet caption "
     "slogan escribe redacta schreibe verfasse écris rédige scrivi escreva redija напиши "
     "составь",
     ("cover letter", "product description"),
     "写 撰写 書いて 作成 작성 써줘"),
    ("code",
     "code function class method implement implementation script program bug debug error "
     "exception traceback refactor regex sql query api endpoint python javascript typescript "
     "java golang rust cpp kotlin swift compile compiler deploy docker kubernetes async "
     "thread threads library framework unittest test tests código función implementa "
     "funktion implementiere fonction implémente codice função функцию функция код скрипт",
     ("unit test", "pull request", "type error", "null pointer"),
     "代码 函数 实现 调试 报错 コード 関数 実装 バグ 코드 함수 구현"),
    ("hard_debug",
     "race deadlock leak leaks segfault intermittent flaky intermittently corruption "
     "nondeterministic heisenbug contention starvation livelock regression bottleneck oom",
     ("race condition", "memory leak", "root cause", "in production", "only happens",
      "sometimes fails", "under load"),
     "竞态 死锁 内存泄漏 デッドロック 데드락"),
    ("design",
     "design architect architecture architectures microservices orchestration "
     "infrastructure arquitectura diseña diseñar architektur entwerfe entwirf conçois "
     "concevoir progetta architettura projete arquitetura спроектируй архитектуру "
     "архитектура",
     ("system design", "migration plan", "event sourcing", "data model", "end to end"),
     "架构 设计 設計 アーキテクチャ 설계 아키텍처"),
    ("scale",
     "scalable scalability distributed sharding replication consensus failover "
     "multi-region throughput latency availability consistency partitioning idempotent "
     "idempotency concurrency concurrent transactional transactions qps rps "
     "distribuido escalable verteilt skalierbar distribué évolutive distribuito distribuído "
     "распределенная распределённая отказоустойчивость",
     ("high availability", "fault tolerant", "fault tolerance", "exactly once",
      "at scale", "zero downtime", "multi region", "active active", "per second"),
     "分布式 高可用 可扩展 并发 一致性 分散 並行 整合性 분산 동시성 고가용성"),
    ("proof",
     "prove proof proofs theorem lemma derive derivation rigorous rigorously formally "
     "irrational induction invariant demuestra demostrar beweise beweis démontre prouve "
     "dimostra dimostrare dimostrazione demonstre demonstrar докажи доказать доказательство",
     ("show that", "closed form"),
     "证明 推导 証明 導出 증명"),
    ("math",
     "integral derivative equation equations probability expected variance eigenvalue "
     "eigenvalues matrix optimize optimization converge convergence asymptotic polynomial "
     "logarithm calculus combinatorics modulo prime primes inequality bayes bayesian "
     "stochastic gradient solve calculate compute probabilidad ecuación wahrscheinlichkeit "
     "gleichung probabilité équation вероятность уравнение probabilità equazione "
     "probabilidade equação",
     ("expected value", "big o", "time complexity", "how many ways"),
     "概率 积分 方程 求解 確率 積分 方程式 확률 방정식"),
    ("reasoning",
     "puzzle riddle logic logical deduce infer inference paradox counterfactual reasoning "
     "hypothesis implies implication syllogism dilemma strategy strategic tradeoff "
     "tradeoffs trade offs",
     ("step by step", "step-by-step", "think through", "trade-off", "trade-offs",
      "only if", "what if", "game theory", "worst case"),
     "推理 逻辑 悖论 論理 推論"),
    ("analysis",
     "analyze analyse analysis evaluate assess critique audit review implications risks "
     "vulnerability vulnerabilities threat compliance benchmark benchmarks comprehensive "
     "rigorous thorough investigate diagnose recommend recommendation roadmap analiza "
     "analysiere analizza analise análise проанализируй анализ оцени",
     ("in depth", "in-depth", "threat model", "security review", "detailed analysis",
      "end to end", "end-to-end"),
     "分析 评估 审查 分析して 評価 분석 검토 평가"),
    ("domain",
     "legal contract liability lawsuit litigation statute gdpr hipaa tax taxes diagnosis "
     "clinical dosage pharmacokinetics symptoms quantum genomic thermodynamics econometric "
     "regression statistical statistics hedge derivatives valuation actuarial fiduciary "
     "jurisdiction cryptography encryption protocol kernel compiler договор contratto "
     "contrato налог imposta imposto диагноз diagnosi",
     ("differential diagnosis", "case law", "due diligence", "monte carlo"),
     "法律 合同 诊断 量子 税 法的 契約 診断 계약 세금 진단"),
    ("constraint",
     "must ensure without constraint constraints requirement requirements guarantee "
     "guarantees handle edge cases optimal minimize maximize efficient efficiently "
     "complexity while",
     ("at least", "at most", "no more than", "edge cases", "must not", "without using"),
     "必须 确保 约束 必要 制約"),
    ("multi_step",
     "then first second finally afterwards next steps plan",
     ("and then", "after that", "step 1", "phase 1", "and also", "as well as"),
     "首先 然后 最后 まず 次に"),
)
_ROUTER_WORDS = frozenset((  # noqa: SIM905
    "simple easy trivial moderate medium complex hard difficult premium cheap cheapest "
    "expensive tier tiers route routing router routed classify classification classifier "
    "gpt gpt4 gpt4o 4o claude opus sonnet haiku deepseek qwen llm model"
).split())


def _compile_families() -> tuple[dict[str, tuple[str, ...]], list[tuple[str, str]]]:
    """Words and phrases (as space-joined tokens) -> families; CJK substrings separately.

    Phrases are matched on tokens, so they are at most three tokens long.
    """
    keys: dict[str, list[str]] = {}
    cjk: list[tuple[str, str]] = []
    for name, ws, ps, cs in _FAMILIES:
        for key in [*ws.split(), *(" ".join(_WORD.findall(p)) for p in ps)]:
            keys.setdefault(key, []).append(name)
        cjk.extend((c, name) for c in cs.split())
    return {k: tuple(n) for k, n in keys.items()}, cjk


_FAMILY_KEYS, _FAMILY_CJK = _compile_families()
_FAMILY_KEYSET = frozenset(_FAMILY_KEYS)
_TRIGRAM_HEADS = frozenset(k.rsplit(" ", 1)[0] for k in _FAMILY_KEYS if k.count(" ") == 2)
FAMILIES: tuple[str, ...] = tuple(f[0] for f in _FAMILIES)


def _scan(text: str, limit: int = _SCAN) -> str:
    return text if len(text) <= limit + _TAIL else text[:limit] + "\n" + text[-_TAIL:]


def _tokens(low: str) -> list[str]:
    """Lowercased word tokens; a CJK run becomes its character bigrams."""
    toks = _WORD.findall(low)
    if low.isascii() or not _CJK.search(low):
        return toks
    out: list[str] = []
    for t in toks:
        if _CJK.search(t):
            out.extend(t[i:i + 2] for i in range(max(1, len(t) - 1)))
        else:
            out.append(t)
    return out


def _families(low: str, toks: list[str], grams: list[str]) -> set[str]:
    """Families named by a word, a 2- or 3-token phrase, or (CJK) a substring."""
    found: set[str] = set()
    keys = _FAMILY_KEYS
    # Set intersections run in C: long texts cost a few microseconds, not a Python loop.
    gram_set = set(grams)
    for k in _FAMILY_KEYSET.intersection(toks):
        found.update(keys[k])
    for k in _FAMILY_KEYSET.intersection(gram_set):
        found.update(keys[k])
    if _TRIGRAM_HEADS.isdisjoint(gram_set):
        heads: frozenset[str] | set[str] = frozenset()
    else:
        heads = _TRIGRAM_HEADS & gram_set
    for i, g in enumerate(grams) if heads else ():
        if g in heads and i + 2 < len(toks) and (names := keys.get(g + " " + toks[i + 2])):
            found.update(names)
    if not low.isascii() and _CJK.search(low):  # every CJK key holds a CJK character
        for sub, name in _FAMILY_CJK:
            if name not in found and sub in low:
                found.add(name)
    return found


def _bigrams(toks: list[str]) -> list[str]:
    return [a + " " + b for a, b in pairwise(toks)]


def split_instruction(text: str) -> tuple[str, str]:
    """(instruction, payload) of a long ask: "fix the typos in this email:" + the email.

    A long ask whose first paragraph is short is read as an instruction followed by
    pasted material; a short last paragraph counts as instruction too. The payload
    adds only structure and task families, so long-but-simple asks are not mistaken
    for hard ones because of the words in what they paste.
    """
    if len(text) < 300:
        return text, ""
    first, sep, rest = text.partition("\n\n")
    if not sep or len(first) > 0.4 * len(text):
        return text, ""
    body, sep, last = rest.rpartition("\n\n")
    if sep and len(last) < 300 and not _CODE_LINE.search(last):
        return first + "\n" + last, body
    return first, rest


def _log(n: float, scale: float) -> float:
    return math.log1p(n) / scale


def _visible_len(text: str) -> int:
    # Whitespace runs count as one: what a stripped directive leaves behind (a space, a
    # blank line) must not change the length, or the trees could flip a tier on it.
    return len(" ".join(text.split()))


def text_structure(text: str, toks: list[str], out: dict[str, float]) -> None:
    """Structural features of one text (the ask) into ``out``."""
    n = _visible_len(text)
    out["s:len"] = _log(n, 8.0)
    if n > 2000:
        out["s:long"] = 1.0
    if n < 40:
        out["s:short"] = 1.0
    multiline = "\n" in text
    if "```" in text or "~~~" in text:
        out["s:code_fence"] = 1.0
    if multiline and (lines := len(_CODE_LINE.findall(text))):
        out["s:code_lines"] = _log(lines, 3.0)
    if any(m in text for m in _TRACE_MARKERS):
        out["s:trace"] = 1.0
    inline = text.count("`") // 2 + text.count("()")
    if "_" in text:
        inline += sum("_" in t for t in toks)
    if inline:
        out["s:inline_code"] = _log(inline, 3.0)
    if _MATH_CHARS.search(text) or "\\frac" in text or "$$" in text:
        out["s:math_sym"] = 1.0
    nums = sum(t[0].isdigit() for t in toks)
    if nums:
        out["s:numbers"] = _log(nums, 2.5)
        if any(c in text for c in "=+*/^<>") and (eq := len(_EQUATION.findall(text))):
            out["s:equation"] = _log(eq, 2.0)
    if any(c in text for c in "$€£¥%"):
        out["s:money"] = 1.0
    if multiline:
        if items := len(_LIST.findall(text)):
            out["s:list"] = _log(items, 2.0)
        if len(_OPTION.findall(text)) >= 2:
            out["s:options"] = 1.0
    if q := text.count("?") + text.count("？"):
        out["s:questions"] = _log(q, 1.5)
    if sentences := len(_SENTENCE.findall(text)):
        out["s:sentences"] = _log(sentences, 2.5)
    if not text.isascii():
        if _CJK.search(text, 0, 400):
            out["s:cjk"] = 1.0
        elif sum(ord(c) > 0x24F for c in text[:400]) > 20:
            out["s:other_script"] = 1.0


def extract(conv: Conversation, tokens: bool = True) -> dict[str, float]:
    """The feature dict of a conversation (see the module docstring)."""
    full = conv.last_user_text
    text = _scan(full)
    ask, payload = split_instruction(text)
    low = ask.lower()
    out: dict[str, float] = {}
    toks = _tokens(low)
    text_structure(ask, toks, out)
    out["s:total_len"] = _log(_visible_len(full), 8.0)
    if clauses := low.count(",") + low.count(";") + low.count(" and ") + low.count(" with "):
        out["s:clauses"] = _log(clauses, 2.0)
    for name in _families(low, toks, _bigrams(toks)):
        out["f:" + name] = 1.0
    if tokens:
        for key in _token_features(toks):
            out[key] = 1.0
    if payload:
        _payload(payload, out)
    if len(conv.user_texts) > 1 or conv.assistant_texts:
        _context(conv, len(toks), out, tokens)
    if conv.tools:
        out["s:tools"] = 1.0
        out["s:n_tools"] = _log(len(conv.tools), 2.0)
    if conv.tool_results:
        out["s:tool_results"] = _log(conv.tool_results, 2.0)
    if conv.has_images:
        out["s:images"] = 1.0
    if conv.system_text:
        out["s:system"] = 1.0
    return out


def _payload(payload: str, out: dict[str, float]) -> None:
    out["s:payload"] = _log(len(payload), 8.0)
    if "```" in payload or _CODE_LINE.search(payload):
        out["s:payload_code"] = 1.0
    if any(m in payload for m in _TRACE_MARKERS):
        out["s:payload_trace"] = 1.0
    low = payload[:_CTX_SCAN].lower()
    toks = _tokens(low)
    for name in _families(low, toks, _bigrams(toks)):
        out["p:" + name] = 1.0


def _context(conv: Conversation, ask_tokens: int, out: dict[str, float],
             tokens: bool) -> None:
    """Earlier turns: a short follow-up inherits the weight of the thread.

    The thread's opening ask and the previous ask add their own task families and words
    at ``CONTEXT_WEIGHT``, so what the model learned about single requests carries over
    to "why?" after a long design discussion.
    """
    out["s:followup"] = 1.0
    out["s:turns"] = _log(conv.turns, 2.0)
    out["s:ctx_len"] = _log(conv.text_chars - len(conv.last_user_text), 9.0)
    if ask_tokens < 12:
        out["s:short_followup"] = 1.0
    earlier = conv.user_texts[:-1]
    if not earlier:
        return
    picked = [earlier[0], earlier[-1]] if len(earlier) > 1 else [earlier[0]]
    ctx = "\n".join(split_instruction(_scan(t, _CTX_SCAN // 2))[0] for t in picked)
    low = ctx.lower()
    toks = _tokens(low)
    families = _families(low, toks, _bigrams(toks))
    for name in families:
        out["c:" + name] = 1.0
    if "```" in ctx or any(m in ctx for m in _TRACE_MARKERS):
        out["c:code_block"] = 1.0
    weight = CONTEXT_WEIGHT
    for name in families:
        key = "f:" + name
        out[key] = out.get(key, 0.0) + weight
    if tokens:
        for key in _token_features(toks):
            out[key] = out.get(key, 0.0) + weight


def _token_features(toks: list[str]) -> list[str]:
    router = _ROUTER_WORDS
    kept = [t for t in toks if t not in router and not t[0].isdigit()]
    return ["w:" + t for t in kept] + ["b:" + g for g in _bigrams(kept)]
