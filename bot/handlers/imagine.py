"""/imagine <prompt> (or the prompt in the next message), then an aspect-ratio keyboard with the price."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from bot.handlers.common import Caller, caller, command_args, draft_choice
from bot.handlers.launch import launch
from bot.inputs import is_blank, prompt_refusal
from bot.job_input import OFFERED_ASPECTS, clean_prompt, prompt_limit
from bot.jobs import JobRequest, Kind
from bot.services import svc
from bot.texts import t
from bot.user_settings import UserSettingsStore

INTENT = "imagine"
PER_ROW = 4


async def imagine(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    me = await caller(update, context)
    assert update.effective_message is not None
    prompt = command_args(update)
    if not prompt:
        await svc(context).drafts.expect(me.uid, INTENT)
        await update.effective_message.reply_text(t(me.lang, "imagine_ask"))
        return
    await offer(update.effective_message, context, me, prompt)


async def offer(message: Message, context: ContextTypes.DEFAULT_TYPE, me: Caller, text: str) -> None:
    """Show the price and the aspect ratios for a prompt (from /imagine or the message after it)."""
    s = svc(context)
    if is_blank(text):
        await message.reply_text(t(me.lang, "imagine_empty_prompt"))
        return
    prompt = clean_prompt(text)
    if prompt is None:
        key, values = prompt_refusal(text, prompt_limit())
        await message.reply_text(t(me.lang, key, **values))
        return
    await s.drafts.clear(me.uid)
    # "Use this seed" left the settings of a result; otherwise the user's /settings apply.
    base = await s.drafts.take_template(me.uid)
    if base is None:
        user = await UserSettingsStore(s.ledger.redis, s.settings.redis_prefix).get(me.uid)
        base = user.apply(JobRequest(kind=Kind.IMAGE))
    draft = await s.drafts.create(me.uid, base.model_copy(update={"prompt": prompt}))
    buttons = [InlineKeyboardButton(ratio, callback_data=f"ar:{draft}:{ratio}") for ratio in OFFERED_ASPECTS]
    rows = [buttons[i : i + PER_ROW] for i in range(0, len(buttons), PER_ROW)]
    balance = await s.ledger.balance(me.uid)
    text = t(me.lang, "imagine_pick", cost=s.settings.image_cost, balance=balance, prompt=prompt[:200])
    await message.reply_text(text, reply_markup=InlineKeyboardMarkup(rows))


async def aspect_chosen(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    await query.answer()
    me = await caller(update, context)
    draft_id, ratio = draft_choice(query.data)
    request = await svc(context).drafts.get(draft_id, me.uid)
    if request is None or ratio not in OFFERED_ASPECTS:
        await query.edit_message_text(t(me.lang, "draft_expired"))
        return
    request = request.model_copy(update={"aspect": ratio})
    await launch(query, context, me, draft_id, request, svc(context).settings.image_cost)


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(CommandHandler("imagine", imagine))
    app.add_handler(CallbackQueryHandler(aspect_chosen, pattern=r"^ar:"))
