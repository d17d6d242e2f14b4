"""Texts that break naive apps; every page must show them as text and never raise."""

HOSTILE_TEXTS = {
    "empty": "",
    "whitespace": "   \n\t  ",
    "long_5000_tokens": "the cat sat. " * 1250,  # 4 WordPiece tokens each: 5,000 tokens
    "emoji_zwj": "Family: 👨‍👩‍👧‍👦 and flags 🇺🇦🏳️‍🌈 with skin tones 👋🏽",
    "arabic_hebrew": "مرحبا بالعالم — שלום עולם — mixed with English",
    "cjk": "我爱自然语言处理。日本語のテキスト。한국어 문장",
    "zero_width_control": "zero\u200bwidth\u200djoiner\u2060and\u0007bell\u0001control\ufeff",
    "markup": "<img src=x onerror=alert(1)>",
    "script": "<script>alert('x')</script> **bold** $x^2$ :red[colour]",
}
