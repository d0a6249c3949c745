# ruff: noqa: RUF001 - the Russian catalog is Cyrillic by design
"""Every user-facing text, in English and Russian. ``t(lang, key, **values)`` picks and fills one.

A count that needs a plural noun is written ``{balance:credits}``: the format spec names an entry of ``NOUNS``,
and Babel's CLDR plural rules pick its form for the language (``1 credit``, ``3 кредита``, ``5 кредитов``), so no
text ever glues a number to a fixed noun form. Languages other than those in ``LANGUAGES`` read English.
"""

from __future__ import annotations

import math
import string
from functools import cache
from typing import Any, Final

from babel import Locale
from babel.numbers import format_decimal

LANGUAGES: Final = ("en", "ru")

CATALOG: Final[dict[str, dict[str, str]]] = {
    "welcome": {
        "en": "Hi! I turn words into pictures and portraits into short living videos.\n"
        "You have {balance:credits} to start.\n\n"
        "/imagine <prompt> — an image ({image_cost} cr.)\n/animate — animate a face photo (from {video_cost} cr.)\n"
        "/balance — your credits · /buy — more credits · /help — everything else",
        "ru": "Привет! Я превращаю слова в картинки, а портреты — в короткие живые видео.\n"
        "Для начала у вас {balance:credits}.\n\n"
        "/imagine <описание> — картинка ({image_cost} кр.)\n/animate — оживить фото лица (от {video_cost} кр.)\n"
        "/balance — баланс · /buy — купить кредиты · /help — всё остальное",
    },
    "welcome_back": {
        "en": "Welcome back! Your balance: {balance:credits}. /help lists what I can do.",
        "ru": "С возвращением! Ваш баланс: {balance:credits}. /help — что я умею.",
    },
    "help": {
        "en": "/imagine <prompt> — generate an image, then pick the aspect ratio\n"
        "/animate — send a face photo, pick 10/15/20 s, get a video\n"
        "/settings — style, negative prompt, steps and CFG for images\n/history — your last results, sent again for free\n"
        "/cancel — stop the running job (credits are refunded)\n"
        "/balance — credits and recent changes\n/buy — buy credits with Telegram Stars\n"
        "/referral — invite friends, get {bonus:credits} for each\n/language — English / Русский\n"
        "/terms — terms of service · /paysupport — payment help",
        "ru": "/imagine <описание> — создать картинку и выбрать формат\n"
        "/animate — отправьте фото лица, выберите 10/15/20 с и получите видео\n"
        "/settings — стиль, негативный промпт, шаги и CFG картинок\n/history — последние результаты, повторно бесплатно\n"
        "/cancel — остановить текущую задачу (кредиты вернутся)\n"
        "/balance — кредиты и последние операции\n/buy — купить кредиты за Telegram Stars\n"
        "/referral — приглашайте друзей: {bonus:credits} за каждого\n/language — English / Русский\n"
        "/terms — условия · /paysupport — помощь с оплатой",
    },
    "balance": {"en": "Balance: {balance:credits}.", "ru": "Баланс: {balance:credits}."},
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
        "en": "That prompt can't be used: it contains control characters. Please type it as ordinary text.",
        "ru": "Такое описание не подходит: в нём есть управляющие символы. Напишите его обычным текстом.",
    },
    "imagine_prompt_too_long": {
        "en": "That prompt is too long: {length:characters}, the limit is {max:characters}. Please shorten it.",
        "ru": "Описание слишком длинное: {length:characters}, а предел — {max:characters}. Сократите его, пожалуйста.",
    },
    "imagine_pick": {
        "en": "Pick the aspect ratio. Price: {cost:credits} (balance {balance}).\n\n«{prompt}»",
        "ru": "Выберите формат. Цена: {cost:credits} (баланс {balance}).\n\n«{prompt}»",
    },
    "animate_ask": {
        "en": "Send me a photo of one face (front-facing, well lit).",
        "ru": "Отправьте фото одного лица (анфас, при хорошем свете).",
    },
    "animate_pick": {
        "en": "Pick a motion style (optional), then the length. Balance: {balance:credits}.",
        "ru": "Выберите стиль движения (необязательно), затем длину. Баланс: {balance:credits}.",
    },
    "duration_button": {"en": "{seconds} s · {cost} cr.", "ru": "{seconds} с · {cost} кр."},
    "aspect_button": {"en": "{ratio}", "ru": "{ratio}"},
    "photo_too_big": {
        "en": "This photo is too large ({size}). Please send one of at most {limit}.",
        "ru": "Фото слишком большое ({size}). Отправьте, пожалуйста, не больше {limit}.",
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
        "en": "Not enough credits: this costs {cost:credits}, you have {balance}. Buy more and continue with one tap.",
        "ru": "Недостаточно кредитов: нужно {cost:credits}, у вас {balance}. Пополните баланс и продолжите одним нажатием.",
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
        "en": "✅ Done. {cost:credits} spent, balance {balance}.",
        "ru": "✅ Готово. Списано: {cost:credits}, баланс {balance}.",
    },
    "refunded": {
        "en": "Refunded to your balance: {cost:credits}.",
        "ru": "Возвращено на баланс: {cost:credits}.",
    },
    "cancel_button": {"en": "✖ Cancel", "ru": "✖ Отмена"},
    "original_button": {"en": "⬇ Original PNG", "ru": "⬇ Оригинал PNG"},
    "original_gone": {
        "en": "The original is no longer available.",
        "ru": "Оригинал больше недоступен.",
    },
    "video_link": {
        "en": "The video is too large for Telegram ({size} of at most {limit}). Download it here (link valid for a few days):\n{url}",
        "ru": "Видео слишком большое для Telegram ({size} при пределе {limit}). Скачайте его по ссылке (действует несколько дней):\n{url}",
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
        "en": "Choose a pack (paid with Telegram Stars). Balance: {balance:credits}.",
        "ru": "Выберите пакет (оплата Telegram Stars). Баланс: {balance:credits}.",
    },
    "buy_button": {"en": "⭐ Buy credits", "ru": "⭐ Купить кредиты"},
    "pack_button": {"en": "{credits:credits} · {stars} ⭐", "ru": "{credits:credits} · {stars} ⭐"},
    "invoice_title": {"en": "{credits:credits}", "ru": "{credits:credits}"},
    "invoice_description": {
        "en": "{credits:credits} for images and videos in this bot.",
        "ru": "{credits:credits} на картинки и видео в этом боте.",
    },
    "precheckout_bad": {
        "en": "This offer is no longer valid. Please use /buy again.",
        "ru": "Это предложение больше не действует. Воспользуйтесь /buy ещё раз.",
    },
    "paid": {
        "en": "Thank you! Added: {credits:credits}. Balance: {balance}.",
        "ru": "Спасибо! Начислено: {credits:credits}. Баланс: {balance}.",
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
        "en": "Invite friends with this link; you get {bonus:credits} for each new user.\n{link}\nInvited so far: {count}.",
        "ru": "Приглашайте друзей по этой ссылке — {bonus:credits} за каждого нового пользователя.\n{link}\nПриглашено: {count}.",
    },
    "referral_bonus": {
        "en": "🎉 Someone joined with your link: +{bonus:credits}.",
        "ru": "🎉 По вашей ссылке пришёл новый пользователь: +{bonus:credits}.",
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
    # Command menus (setMyCommands per language)
    "cmd_imagine": {"en": "Generate an image", "ru": "Создать картинку"},
    "cmd_animate": {"en": "Animate a face photo", "ru": "Оживить фото лица"},
    "cmd_settings": {"en": "Image settings", "ru": "Настройки картинок"},
    "cmd_history": {"en": "Your last results", "ru": "Последние результаты"},
    "cmd_balance": {"en": "Credits and recent changes", "ru": "Баланс и операции"},
    "cmd_buy": {"en": "Buy credits", "ru": "Купить кредиты"},
    "cmd_cancel": {"en": "Cancel the running job", "ru": "Отменить задачу"},
    "cmd_referral": {"en": "Invite friends", "ru": "Пригласить друзей"},
    "cmd_language": {"en": "Language", "ru": "Язык"},
    "cmd_help": {"en": "Help", "ru": "Помощь"},
    "cmd_terms": {"en": "Terms", "ru": "Условия"},
    "cmd_paysupport": {"en": "Payment support", "ru": "Помощь с оплатой"},
    # Inputs the bot cannot use, each with its own reason
    "imagine_empty_prompt": {
        "en": "That prompt has no visible text (only spaces or invisible characters). Describe the picture in words.",
        "ru": "В описании нет видимого текста (только пробелы или невидимые символы). Опишите картинку словами.",
    },
    "input_video_note": {
        "en": "I can't animate a round video message. Send a photo of one face instead.",
        "ru": "Круглое видеосообщение оживить нельзя. Отправьте вместо него фото одного лица.",
    },
    "input_animation": {
        "en": "GIFs and animations can't be animated again. Send a still photo of one face.",
        "ru": "GIF и анимации оживить нельзя. Отправьте обычное фото одного лица.",
    },
    "input_video": {
        "en": "I make videos from photos, not from videos. Send a photo of one face.",
        "ru": "Я делаю видео из фото, а не из видео. Отправьте фото одного лица.",
    },
    "input_sticker": {
        "en": "Stickers can't be animated. Send a photo of one face.",
        "ru": "Стикеры оживить нельзя. Отправьте фото одного лица.",
    },
    "input_audio": {
        "en": "I don't work with voice or audio. Send a photo to animate, or /imagine <prompt> for an image.",
        "ru": "Голос и аудио я не обрабатываю. Отправьте фото, чтобы оживить его, или /imagine <описание>.",
    },
    "input_heic": {
        "en": "HEIC/HEIF photos (iPhone's format) can't be read here. Send it as a photo, not as a file "
        "(Telegram converts it to JPEG), or export it as JPEG.",
        "ru": "Фото в формате HEIC/HEIF (формат iPhone) здесь не читаются. Отправьте его как фото, а не файлом "
        "(Telegram переведёт его в JPEG), или сохраните в JPEG.",
    },
    "input_image_format": {
        "en": "{format} images can't be animated. Send a JPEG, PNG or WebP photo.",
        "ru": "Картинки {format} оживить нельзя. Отправьте фото в JPEG, PNG или WebP.",
    },
    "input_document": {
        "en": "This file ({format}) is not a photo. Send a photo of one face (JPEG, PNG or WebP).",
        "ru": "Файл {format} — это не фото. Отправьте фото одного лица (JPEG, PNG или WebP).",
    },
    "input_file": {
        "en": "This file is not a photo I can read. Send a photo of one face (JPEG, PNG or WebP).",
        "ru": "Этот файл — не фото, которое я могу прочитать. Отправьте фото одного лица (JPEG, PNG или WebP).",
    },
    "input_contact": {
        "en": "That's a contact, not a photo. Send a photo of one face to animate it, or /imagine <prompt> for an image.",
        "ru": "Это контакт, а не фото. Отправьте фото одного лица, чтобы оживить его, или /imagine <описание>.",
    },
    "input_location": {
        "en": "I can't use a location or a place. Send a photo of one face to animate it, or /imagine <prompt>.",
        "ru": "Геопозицию и места я не обрабатываю. Отправьте фото одного лица или /imagine <описание>.",
    },
    "input_poll": {
        "en": "Polls and checklists aren't something I can draw from. Use /imagine <prompt> or send a face photo.",
        "ru": "Опросы и списки я не обрабатываю. Используйте /imagine <описание> или отправьте фото лица.",
    },
    "input_dice": {
        "en": "{emoji} Nice one, but I only make images and videos: /imagine <prompt>, or send a face photo.",
        "ru": "{emoji} Неплохо, но я только создаю картинки и видео: /imagine <описание> или фото лица.",
    },
    "input_story": {
        "en": "I can't open stories. Save the photo from it and send it to me as a photo.",
        "ru": "Истории я открыть не могу. Сохраните фото из неё и отправьте мне как фото.",
    },
    "input_paid_media": {
        "en": "I can't open paid media. Send the photo itself (a photo of one face).",
        "ru": "Платные медиа я открыть не могу. Отправьте само фото (фото одного лица).",
    },
    "prompt_needs_text": {
        "en": "I'm waiting for the prompt as text: describe the picture in words (emoji are fine too).",
        "ru": "Жду описание текстом: опишите картинку словами (можно и эмодзи).",
    },
    "album_one_photo": {
        "en": "I animate one photo at a time: I took the first photo of the album.",
        "ru": "Я оживляю по одному фото: взял первое фото из альбома.",
    },
    "photo_unreadable": {
        "en": "❌ I couldn't read this photo. Send a JPEG, PNG or WebP photo of one face.",
        "ru": "❌ Не удалось прочитать это фото. Отправьте фото одного лица в JPEG, PNG или WebP.",
    },
    "photo_elongated": {
        "en": "This photo's shape ({size}) is too long and narrow. Crop it closer to the face and send it again.",
        "ru": "Фото слишком вытянутое ({size}). Обрежьте его ближе к лицу и отправьте снова.",
    },
    "photo_too_many_pixels": {
        "en": "This photo has too many pixels ({size}). Please send one of at most {limit}.",
        "ru": "В фото слишком много пикселей ({size}). Отправьте, пожалуйста, не больше {limit}.",
    },
    "face_too_small": {
        "en": "❌ The face in this photo is too small. Send a closer photo where the face fills more of the frame.",
        "ru": "❌ Лицо на фото слишком маленькое. Отправьте фото крупнее, где лицо занимает больше кадра.",
    },
    "photo_too_small": {
        "en": "This photo is too small ({size}); a face needs at least {limit} on the shorter side.",
        "ru": "Фото слишком маленькое ({size}); для лица нужно не меньше {limit} по короткой стороне.",
    },
    # Result actions under an image
    "btn_reroll": {"en": "🔁 Re-roll · {cost} cr.", "ru": "🔁 Ещё раз · {cost} кр."},
    "btn_variations": {"en": "🎨 Variations · {cost} cr.", "ru": "🎨 Вариации · {cost} кр."},
    "btn_upscale": {"en": "⬆ Upscale 2x · {cost} cr.", "ru": "⬆ Увеличить 2x · {cost} кр."},
    "btn_seed": {"en": "🌱 Use this seed", "ru": "🌱 Взять этот seed"},
    "seed_ask": {
        "en": "Send me a new prompt: I'll draw it with seed {seed} and the same settings.",
        "ru": "Пришлите новое описание: нарисую его с seed {seed} и теми же настройками.",
    },
    "result_gone": {
        "en": "This result is no longer available for that. /history lists what is kept.",
        "ru": "Этот результат для этого больше недоступен. /history — что сохранилось.",
    },
    "action_started": {"en": "Started.", "ru": "Запущено."},
    # What ran, in the result's caption
    "caption_seed": {"en": "Seed {seed}", "ru": "Seed {seed}"},
    "caption_style": {"en": "style {style}", "ru": "стиль {style}"},
    "caption_steps": {"en": "{steps:steps}, CFG {cfg}", "ru": "{steps:steps}, CFG {cfg}"},
    "caption_video": {"en": "{duration} s, motion: {style}", "ru": "{duration} с, движение: {style}"},
    "caption_kind_variation": {"en": "Variation", "ru": "Вариация"},
    "caption_kind_upscale": {"en": "Upscaled 2x", "ru": "Увеличено 2x"},
    "caption_warning": {"en": "⚠ {warning}", "ru": "⚠ {warning}"},
    # Requests kept for later
    "queued_behind": {
        "en": "⏳ Waiting for your previous job to finish ({position} in your queue)…",
        "ru": "⏳ Жду, пока закончится ваша предыдущая задача ({position} в вашей очереди)…",
    },
    "user_queue_full": {
        "en": "You already have {count:requests} waiting. Wait for them or /cancel.",
        "ru": "У вас уже ждут {count:requests}. Дождитесь их или отмените: /cancel.",
    },
    "continue_button": {"en": "▶ Continue", "ru": "▶ Продолжить"},
    "continue_offer": {
        "en": "Your request is still waiting ({cost:credits}). Continue?",
        "ru": "Ваш запрос всё ещё ждёт ({cost:credits}). Продолжить?",
    },
    # /animate
    "motion_calm": {"en": "😌 Calm", "ru": "😌 Спокойно"},
    "motion_cheerful": {"en": "😊 Cheerful", "ru": "😊 Весело"},
    "motion_nods": {"en": "🙂 Nods", "ru": "🙂 Кивает"},
    "face_refused": {
        "en": "{reason}\nNothing was charged.",
        "ru": "{reason}\nКредиты не списаны.",
    },
    # /settings
    "settings_show": {
        "en": "Your image settings:\nStyle: {style}\nSteps: {steps} · CFG: {cfg}\nNegative prompt: {negative}\n\n"
        "Tap to change.",
        "ru": "Ваши настройки картинок:\nСтиль: {style}\nШагов: {steps} · CFG: {cfg}\nНегативный промпт: {negative}\n\n"
        "Нажмите, чтобы изменить.",
    },
    "settings_default": {"en": "default", "ru": "по умолчанию"},
    "settings_none": {"en": "none", "ru": "нет"},
    "btn_negative": {"en": "✏ Negative prompt", "ru": "✏ Негативный промпт"},
    "btn_reset": {"en": "↺ Reset", "ru": "↺ Сбросить"},
    "negative_ask": {
        "en": "Send the negative prompt (what images should not show), or - to use the default.",
        "ru": "Пришлите негативный промпт (чего не должно быть на картинках) или -, чтобы вернуть стандартный.",
    },
    "settings_saved": {"en": "Saved.", "ru": "Сохранено."},
    # Style names (workflows/styles.py keys); a style without an entry here shows its own English title
    "style_none": {"en": "No style", "ru": "Без стиля"},
    "style_photo": {"en": "Photo", "ru": "Фото"},
    "style_cinematic": {"en": "Cinematic", "ru": "Кино"},
    "style_anime": {"en": "Anime", "ru": "Аниме"},
    "style_painting": {"en": "Oil painting", "ru": "Масло"},
    "style_3d": {"en": "3D render", "ru": "3D-рендер"},
    # /history
    "history_empty": {
        "en": "No results yet. /imagine <prompt> makes the first one.",
        "ru": "Результатов пока нет. /imagine <описание> — создать первый.",
    },
    "history_title": {
        "en": "Your last {count:results} (📤 sends it again for free, 🔁 makes a new one):",
        "ru": "Ваши последние {count:results} (📤 — прислать снова бесплатно, 🔁 — сделать новый):",
    },
    "history_video": {"en": "video {duration} s", "ru": "видео {duration} с"},
}


# Nouns that follow a number, in every CLDR plural category the language uses (Babel's ``plural_form.tags``)
# plus ``other``, the fallback (fractions in Russian). ``{n}`` is the number.
NOUNS: Final[dict[str, dict[str, dict[str, str]]]] = {
    "credits": {
        "en": {"one": "{n} credit", "other": "{n} credits"},
        "ru": {"one": "{n} кредит", "few": "{n} кредита", "many": "{n} кредитов", "other": "{n} кредита"},
    },
    "results": {
        "en": {"one": "{n} result", "other": "{n} results"},
        "ru": {"one": "{n} результат", "few": "{n} результата", "many": "{n} результатов", "other": "{n} результата"},
    },
    "requests": {
        "en": {"one": "{n} request", "other": "{n} requests"},
        "ru": {"one": "{n} запрос", "few": "{n} запроса", "many": "{n} запросов", "other": "{n} запроса"},
    },
    "characters": {
        "en": {"one": "{n} character", "other": "{n} characters"},
        "ru": {"one": "{n} символ", "few": "{n} символа", "many": "{n} символов", "other": "{n} символа"},
    },
    "steps": {
        "en": {"one": "{n} step", "other": "{n} steps"},
        "ru": {"one": "{n} шаг", "few": "{n} шага", "many": "{n} шагов", "other": "{n} шага"},
    },
    "seconds": {
        "en": {"one": "{n} second", "other": "{n} seconds"},
        "ru": {"one": "{n} секунда", "few": "{n} секунды", "many": "{n} секунд", "other": "{n} секунды"},
    },
}

# Size units, each shown with the number in that unit (a limit and the size it refuses share one unit).
UNITS: Final[dict[str, dict[str, str]]] = {
    "B": {"en": "bytes", "ru": "байт"},
    "KB": {"en": "KB", "ru": "КБ"},
    "MB": {"en": "MB", "ru": "МБ"},
    "px": {"en": "px", "ru": "пикс."},
    "MP": {"en": "MP", "ru": "Мп"},
}


@cache
def _locale(lang: str) -> Locale:
    return Locale.parse(lang)


def _base(lang: str) -> str:
    return lang if lang in LANGUAGES else "en"


def plural(lang: str, noun: str, count: int | float) -> str:
    """``count`` with ``noun`` in the form the language's plural rules want (``3 кредита``)."""
    forms = NOUNS[noun].get(lang) or NOUNS[noun]["en"]
    category = _locale(lang if lang in NOUNS[noun] else "en").plural_form(count)
    shown = count if isinstance(count, int) else number(lang, count)  # 1.5 credits, 1,5 кредита
    return (forms.get(category) or forms["other"]).format(n=shown)


class _Formatter(string.Formatter):
    def __init__(self, lang: str) -> None:
        self.lang = lang

    def format_field(self, value: Any, format_spec: str) -> str:
        if format_spec in NOUNS:
            return plural(self.lang, format_spec, value)
        return str(super().format_field(value, format_spec))


# Telegram language codes answered in Russian: Russian, and the languages of countries where Russian is an official
# language too (Belarus, Kazakhstan, Kyrgyzstan). Ukrainian clients read English: Russian is not official in
# Ukraine and many users there would rather not be addressed in it; /language offers it in one tap.
READS_RUSSIAN: Final = ("ru", "be", "kk", "ky")


def pick_language(code: str | None) -> str:
    """The catalog language for a Telegram language code ("ru", "ru-RU", "ru_RU", "BE"); English for any other."""
    base = (code or "").strip().lower().replace("_", "-").split("-")[0]
    return "ru" if base in READS_RUSSIAN else "en"


def t(lang: str, key: str, **values: object) -> str:
    entry = CATALOG[key]
    lang = lang if lang in entry else "en"
    text = entry[lang]
    return _Formatter(lang).format(text, **values) if values else text


def error_text(lang: str, code: str) -> str:
    key = f"err_{code}"
    return t(lang, key if key in CATALOG else "err_INTERNAL")


def size_pair(lang: str, size: int, limit: int) -> tuple[str, str]:
    """A size and the limit it broke, both in the limit's unit (decimal MB for Telegram's 50 000 000 bytes,
    binary for 7 MiB); the size is rounded up so it never reads as equal to the limit (7.01 over 7 is 7.1)."""
    name, scale = "B", 1
    for unit_name, scales in (("MB", (1024 * 1024, 1000 * 1000)), ("KB", (1024, 1000))):
        if limit >= min(scales):
            name, scale = unit_name, next((sc for sc in scales if limit % sc == 0), scales[0])
            break
    # Babel writes the decimal separator of the language (7.1 MB, 7,1 МБ).
    shown_limit = number(lang, math.floor(limit / scale * 10) / 10)
    shown_size = number(lang, math.ceil(size / scale * 10) / 10)
    label = unit(lang, name)
    return f"{shown_size} {label}", f"{shown_limit} {label}"


def number(lang: str, value: float) -> str:
    """A number as the language writes it, one decimal at most (7.1 in English, 7,1 in Russian)."""
    return str(format_decimal(value, "#,##0.#", locale=_locale(_base(lang))))


def unit(lang: str, name: str) -> str:
    return UNITS[name].get(lang) or UNITS[name]["en"]
