"""/settings: the user's style, negative prompt, steps and CFG for images (buttons; the negative prompt typed)."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from bot.captions import style_label, style_names
from bot.handlers.common import Caller, caller
from bot.inputs import is_blank, prompt_refusal
from bot.job_input import prompt_limit
from bot.services import Services, svc
from bot.texts import t
from bot.user_settings import (
    UserSettings,
    UserSettingsStore,
    cfg_choices,
    default,
    steps_choices,
    valid_negative,
    within,
)

NEGATIVE_INTENT = "negative"


def store(s: Services) -> UserSettingsStore:
    return UserSettingsStore(s.ledger.redis, s.settings.redis_prefix)


def _tick(chosen: bool, label: str) -> str:
    return f"✓ {label}" if chosen else label


def describe(lang: str, us: UserSettings) -> str:
    style = style_label(lang, us.style) if us.style else t(lang, "settings_none")
    return t(
        lang,
        "settings_show",
        style=style,
        steps=us.steps if us.steps is not None else default("steps"),
        cfg=f"{us.cfg if us.cfg is not None else default('cfg'):g}",
        negative=us.negative_prompt or t(lang, "settings_default"),
    )


def keyboard(lang: str, us: UserSettings) -> InlineKeyboardMarkup:
    rows = []
    names = style_names()
    if names:  # styles arrive with workflows/styles.py
        styles = [
            InlineKeyboardButton(
                _tick(us.style == key or (us.style is None and key == "none"), style_label(lang, key)),
                callback_data=f"set:style:{key}",
            )
            for key in names
        ]
        rows += [styles[i : i + 3] for i in range(0, len(styles), 3)]
    steps = us.steps if us.steps is not None else default("steps")
    rows.append(
        [InlineKeyboardButton(_tick(n == steps, str(n)), callback_data=f"set:steps:{n}") for n in steps_choices()]
    )
    cfg = us.cfg if us.cfg is not None else default("cfg")
    rows.append(
        [InlineKeyboardButton(_tick(c == cfg, f"CFG {c:g}"), callback_data=f"set:cfg:{c:g}") for c in cfg_choices()]
    )
    rows.append(
        [
            InlineKeyboardButton(t(lang, "btn_negative"), callback_data="set:neg:"),
            InlineKeyboardButton(t(lang, "btn_reset"), callback_data="set:reset:"),
        ]
    )
    return InlineKeyboardMarkup(rows)


async def show(message: Message, context: ContextTypes.DEFAULT_TYPE, me: Caller) -> None:
    us = await store(svc(context)).get(me.uid)
    await message.reply_text(describe(me.lang, us), reply_markup=keyboard(me.lang, us))


async def settings_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    me = await caller(update, context)
    assert update.effective_message is not None
    await show(update.effective_message, context, me)


def _changed(us: UserSettings, what: str, value: str) -> UserSettings | None:
    """The settings after a tap; None when the tap is not a valid choice (forged or outdated data)."""
    if what == "reset":
        return UserSettings()
    if what == "style" and (value in style_names()):
        return us.model_copy(update={"style": None if value == "none" else value})
    try:
        number = float(value)
    except ValueError:
        return None
    if what == "steps" and number.is_integer() and within("steps", number):
        return us.model_copy(update={"steps": int(number)})
    if what == "cfg" and within("cfg", number):
        return us.model_copy(update={"cfg": number})
    return None


async def setting_tapped(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    s = svc(context)
    me = await caller(update, context)
    _, what, value = [*query.data.split(":", 2), "", ""][:3]
    if what == "neg":
        await query.answer()
        await s.drafts.expect(me.uid, NEGATIVE_INTENT)
        await context.bot.send_message(me.chat_id, t(me.lang, "negative_ask"))
        return
    us = _changed(await store(s).get(me.uid), what, value)
    if us is None:
        await query.answer(t(me.lang, "draft_expired"), show_alert=True)
        return
    await store(s).save(me.uid, us)
    await query.answer(t(me.lang, "settings_saved"))
    await query.edit_message_text(describe(me.lang, us), reply_markup=keyboard(me.lang, us))


async def negative_typed(message: Message, context: ContextTypes.DEFAULT_TYPE, me: Caller, text: str) -> None:
    """The message after ✏ Negative prompt: the new negative prompt ("-" or nothing visible: the default)."""
    s = svc(context)
    clear = is_blank(text) or text.strip() == "-"
    negative = None if clear else valid_negative(text)
    if not clear and negative is None:
        key, values = prompt_refusal(text, prompt_limit())
        await message.reply_text(t(me.lang, key, **values))
        return
    await s.drafts.clear(me.uid)
    us = (await store(s).get(me.uid)).model_copy(update={"negative_prompt": negative})
    await store(s).save(me.uid, us)
    await message.reply_text(
        t(me.lang, "settings_saved") + "\n\n" + describe(me.lang, us), reply_markup=keyboard(me.lang, us)
    )


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(CommandHandler("settings", settings_command))
    app.add_handler(CallbackQueryHandler(setting_tapped, pattern=r"^set:"))
