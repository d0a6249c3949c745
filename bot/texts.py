# ruff: noqa: RUF001 - the Russian catalog is Cyrillic by design
"""Every user-facing text, in English and Russian. ``t(lang, key, **values)`` picks and fills one."""

from __future__ import annotations

from typing import Final

LANGUAGES: Final = ("en", "ru")

CATALOG: Final[dict[str, dict[str, str]]] = {
    "welcome": {
        "en": "Hi! I turn words into pictures and portraits into short living videos.\n"
        "You have {balance} credits to start.\n\n"
        "/imagine <prompt> — an image ({image_cost} cr.)\n/animate — animate a face photo (from {video_cost} cr.)\n"
        "/balance — your credits · /buy — more credits · /help — everything else",
        "ru": "Привет! Я превращаю слова в картинки, а портреты — в короткие живые видео.\n"
        "Для начала у вас {balance} кредитов.\n\n"
        "/imagine <описание> — картинка ({image_cost} кр.)\n/animate — оживить фото лица (от {video_cost} кр.)\n"
        "/balance — баланс · /buy — купить кредиты · /help — всё остальное",
    },
    "welcome_back": {
        "en": "Welcome back! Your balance: {balance} credits. /help lists what I can do.",
        "ru": "С возвращением! Ваш баланс: {balance} кредитов. /help — что я умею.",
    },
    "help": {
        "en": "/imagine <prompt> — generate an image, then pick the aspect ratio\n"
        "/animate — send a face photo, pick 10/15/20 s, get a video\n"
        "/cancel — stop the running job (credits are refunded)\n"
        "/balance — credits and recent changes\n/buy — buy credits with Telegram Stars\n"
        "/referral — invite friends, get {bonus} credits each\n/language — English / Русский\n"
        "/terms — terms of service · /paysupport — payment help",
        "ru": "/imagine <описание> — создать картинку и выбрать формат\n"
        "/animate — отправьте фото лица, выберите 10/15/20 с и получите видео\n"
        "/cancel — остановить текущую задачу (кредиты вернутся)\n"
        "/balance — кредиты и последние операции\n/buy — купить кредиты за Telegram Stars\n"
        "/referral — приглашайте друзей и получайте по {bonus} кредита\n/language — English / Русский\n"
        "/terms — условия · /paysupport — помощь с оплатой",
    },
    "balance": {"en": "Balance: {balance} credits.", "ru": "Баланс: {balance} кредитов."},
    "balance_lines": {"en": "Recent changes:", "ru": "Последние операции:"},
    "reason_welcome": {"en": "welcome bonus", "ru": "приветственный бонус"},
    "reason_job": {"en": "generation", "ru": "генерация"},
    "reason_refund": {"en": "refund", "ru": "возврат"},
    "reason_payment": {"en": "purchase", "ru": "покупка"},
    "reason_payment_refund": {"en": "purchase refunded", "ru": "возврат покупки"},
    "reason_payment_refund_failed": {"en": "purchase refund undone", "ru": "отмена возврата покупки"},
    "reason_referral": {"en": "referral bonus", "ru": "бонус за приглашение"},
    "reason_grant": {"en": "adjustment", "ru": "корректировка"},
    "imagine_ask": {
        "en": "Send me the prompt: what should the image show?",
        "ru": "Опишите, что должно быть на картинке.",
    },
    "imagine_bad_prompt": {
        "en": "That prompt can't be used: it must be 1–{max} characters of ordinary text.",
        "ru": "Такое описание не подходит: нужен обычный текст длиной 1–{max} символов.",
    },
    "imagine_pick": {
        "en": "Pick the aspect ratio. Price: {cost} credits (balance {balance}).\n\n«{prompt}»",
        "ru": "Выберите формат. Цена: {cost} кр. (баланс {balance}).\n\n«{prompt}»",
    },
    "animate_ask": {
        "en": "Send me a photo of one face (front-facing, well lit).",
        "ru": "Отправьте фото одного лица (анфас, при хорошем свете).",
    },
    "animate_pick": {
        "en": "How long should the video be? Balance: {balance} credits.",
        "ru": "Какой длины будет видео? Баланс: {balance} кредитов.",
    },
    "duration_button": {"en": "{seconds} s · {cost} cr.", "ru": "{seconds} с · {cost} кр."},
    "aspect_button": {"en": "{ratio}", "ru": "{ratio}"},
    "photo_too_big": {
        "en": "This photo is too large ({size} MB). Please send one under {limit} MB.",
        "ru": "Фото слишком большое ({size} МБ). Отправьте, пожалуйста, до {limit} МБ.",
    },
    "not_a_photo": {
        "en": "I can only animate photos (JPEG or PNG). Please send a photo.",
        "ru": "Оживить можно только фото (JPEG или PNG). Отправьте, пожалуйста, фото.",
    },
    "draft_expired": {
        "en": "This request has expired. Please start again.",
        "ru": "Этот запрос устарел. Начните, пожалуйста, заново.",
    },
    "insufficient": {
        "en": "Not enough credits: this costs {cost}, you have {balance}. /buy to top up.",
        "ru": "Недостаточно кредитов: нужно {cost}, у вас {balance}. Пополнить — /buy.",
    },
    "locked": {
        "en": "You already have a job running. Wait for it or /cancel it.",
        "ru": "У вас уже выполняется задача. Дождитесь её или отмените: /cancel.",
    },
    "queue_full": {
        "en": "I'm very busy right now. Please try again in a few minutes; nothing was charged.",
        "ru": "Сейчас очень много задач. Попробуйте через несколько минут — кредиты не списаны.",
    },
    "banned": {"en": "Your access to this bot is blocked.", "ru": "Ваш доступ к боту заблокирован."},
    "status_reserved": {"en": "⏳ Starting…", "ru": "⏳ Запускаю…"},
    "status_queued": {"en": "⏳ Queued (position {position})…", "ru": "⏳ В очереди (позиция {position})…"},
    "status_running": {"en": "🎨 Working… {percent}%", "ru": "🎨 Работаю… {percent}%"},
    "status_running_plain": {"en": "🎨 Working…", "ru": "🎨 Работаю…"},
    "status_delivering": {"en": "📤 Sending the result…", "ru": "📤 Отправляю результат…"},
    "status_done": {
        "en": "✅ Done. {cost} credits spent, balance {balance}.",
        "ru": "✅ Готово. Списано {cost} кр., баланс {balance}.",
    },
    "refunded": {"en": "Your {cost} credits were refunded.", "ru": "Ваши {cost} кредитов возвращены."},
    "cancel_button": {"en": "✖ Cancel", "ru": "✖ Отмена"},
    "original_button": {"en": "⬇ Original PNG", "ru": "⬇ Оригинал PNG"},
    "original_gone": {
        "en": "The original is no longer available.",
        "ru": "Оригинал больше недоступен.",
    },
    "video_link": {
        "en": "The video is too large for Telegram ({size} MB). Download it here (link valid for a few days):\n{url}",
        "ru": "Видео слишком большое для Telegram ({size} МБ). Скачайте его по ссылке (действует несколько дней):\n{url}",
    },
    "cancel_none": {"en": "You have no running job.", "ru": "У вас нет выполняющейся задачи."},
    "cancel_requested": {"en": "Cancelling…", "ru": "Отменяю…"},
    "err_INVALID_INPUT": {
        "en": "❌ The request could not be processed.",
        "ru": "❌ Запрос не удалось обработать.",
    },
    "err_WORKFLOW_INVALID": {
        "en": "❌ The generator is misconfigured; we've been notified.",
        "ru": "❌ Генератор настроен неверно; мы уже знаем.",
    },
    "err_MODEL_MISSING": {
        "en": "❌ The generator is missing a model; we've been notified.",
        "ru": "❌ У генератора нет нужной модели; мы уже знаем.",
    },
    "err_NO_FACE": {
        "en": "❌ I couldn't find a face in the photo. Send a clear, front-facing photo of one person.",
        "ru": "❌ На фото не найдено лицо. Отправьте чёткое фото одного человека анфас.",
    },
    "err_NODE_FAILED": {"en": "❌ A generation step failed.", "ru": "❌ Сбой на одном из шагов генерации."},
    "err_OUT_OF_MEMORY": {
        "en": "❌ The GPU ran out of memory. Please try again.",
        "ru": "❌ Видеокарте не хватило памяти. Попробуйте ещё раз.",
    },
    "err_TIMEOUT": {
        "en": "❌ The generation took too long and was stopped.",
        "ru": "❌ Генерация заняла слишком много времени и была остановлена.",
    },
    "err_CANCELLED": {"en": "✖ Cancelled.", "ru": "✖ Отменено."},
    "err_STORAGE_FAILED": {
        "en": "❌ The result could not be stored. Please try again.",
        "ru": "❌ Результат не удалось сохранить. Попробуйте ещё раз.",
    },
    "err_INTERNAL": {
        "en": "❌ Something went wrong. Please try again.",
        "ru": "❌ Что-то пошло не так. Попробуйте ещё раз.",
    },
    "err_NO_OUTPUT": {
        "en": "❌ The generator finished without a result.",
        "ru": "❌ Генератор завершил работу без результата.",
    },
    "err_DELIVERY_FAILED": {
        "en": "❌ I couldn't send you the result.",
        "ru": "❌ Не удалось отправить вам результат.",
    },
    "buy_pick": {
        "en": "Choose a pack (paid with Telegram Stars). Balance: {balance} credits.",
        "ru": "Выберите пакет (оплата Telegram Stars). Баланс: {balance} кредитов.",
    },
    "buy_button": {"en": "⭐ Buy credits", "ru": "⭐ Купить кредиты"},
    "pack_button": {"en": "{credits} credits · {stars} ⭐", "ru": "{credits} кредитов · {stars} ⭐"},
    "invoice_title": {"en": "{credits} credits", "ru": "{credits} кредитов"},
    "invoice_description": {
        "en": "{credits} credits for images and videos in this bot.",
        "ru": "{credits} кредитов на картинки и видео в этом боте.",
    },
    "precheckout_bad": {
        "en": "This offer is no longer valid. Please use /buy again.",
        "ru": "Это предложение больше не действует. Воспользуйтесь /buy ещё раз.",
    },
    "paid": {
        "en": "Thank you! {credits} credits added. Balance: {balance}.",
        "ru": "Спасибо! Начислено {credits} кредитов. Баланс: {balance}.",
    },
    "terms": {
        "en": "Terms: credits are bought with Telegram Stars and spent on generations. A generation that fails "
        "is refunded automatically. Don't upload photos of people without their consent. Purchases of unused "
        "credits can be refunded through /paysupport.",
        "ru": "Условия: кредиты покупаются за Telegram Stars и тратятся на генерации. Неудачная генерация "
        "возвращается автоматически. Не загружайте фото людей без их согласия. Покупку неиспользованных "
        "кредитов можно вернуть через /paysupport.",
    },
    "paysupport": {
        "en": "Payment problems? Write your message now (one message, with the payment date and amount): it goes "
        "to our team together with your recent payments, and the answer comes here. Unused credits can be "
        "refunded in Stars. Failed generations are refunded in credits automatically.",
        "ru": "Проблемы с оплатой? Напишите сейчас одно сообщение с датой и суммой платежа: оно уйдёт нашей "
        "команде вместе с вашими последними платежами, а ответ придёт сюда. Неиспользованные кредиты можно "
        "вернуть в Stars. Неудачные генерации возвращаются в кредитах автоматически.",
    },
    "support_sent": {
        "en": "Sent to our team; the answer will come here.",
        "ru": "Отправлено нашей команде; ответ придёт сюда.",
    },
    "support_unavailable": {
        "en": "Support can't be reached right now. Please try /paysupport again later.",
        "ru": "Поддержка сейчас недоступна. Попробуйте /paysupport позже.",
    },
    "support_reply": {"en": "💬 Support: {text}", "ru": "💬 Поддержка: {text}"},
    "referral": {
        "en": "Invite friends with this link; you get {bonus} credits for each new user.\n{link}\nInvited so far: {count}.",
        "ru": "Приглашайте друзей по этой ссылке — {bonus} кредита за каждого нового пользователя.\n{link}\nПриглашено: {count}.",
    },
    "referral_bonus": {
        "en": "🎉 Someone joined with your link: +{bonus} credits.",
        "ru": "🎉 По вашей ссылке пришёл новый пользователь: +{bonus} кредита.",
    },
    "language_pick": {"en": "Choose your language:", "ru": "Выберите язык:"},
    "language_set": {"en": "Language: English.", "ru": "Язык: русский."},
    "unknown_command": {
        "en": "I don't know that command. /help lists what I can do.",
        "ru": "Я не знаю такой команды. /help — что я умею.",
    },
    "send_prompt_or_photo": {
        "en": "Use /imagine <prompt> for an image or send a photo to animate it. /help for more.",
        "ru": "Используйте /imagine <описание> для картинки или отправьте фото, чтобы оживить его. /help — подробнее.",
    },
    "error_update": {
        "en": "❌ Something went wrong on my side; it has been reported (code {trace}). Please try again.",
        "ru": "❌ У меня что-то сломалось; мы уже знаем (код {trace}). Попробуйте ещё раз.",
    },
    "button_stale": {
        "en": "This button is no longer active.",
        "ru": "Эта кнопка больше не действует.",
    },
}


def pick_language(code: str | None) -> str:
    """The catalog language for a Telegram language code."""
    return "ru" if code and code.lower().split("-")[0] in ("ru", "uk", "be", "kk") else "en"


def t(lang: str, key: str, **values: object) -> str:
    entry = CATALOG[key]
    text = entry.get(lang) or entry["en"]
    return text.format(**values) if values else text


def error_text(lang: str, code: str) -> str:
    key = f"err_{code}"
    return t(lang, key if key in CATALOG else "err_INTERNAL")
