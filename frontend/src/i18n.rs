//! The widget's words in its five languages: English, Chinese, German, French, Spanish. The
//! widget sets its language once from `?lang=`; the full app sets none and stays English, with
//! the server's own error messages.
//!
//! Each text is an array in `Lang` order; `t(&TEXT)` picks the current language.

use crate::api::ClientError;
use shared::ErrorCode;
use std::cell::Cell;

/// A language of the widget.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    En,
    Zh,
    De,
    Fr,
    Es,
}

impl Lang {
    /// `en`, `zh`, `de`, `fr`, `es` (a region such as `zh-CN` is ignored); anything else is
    /// English.
    pub fn parse(code: &str) -> Lang {
        let code = code.trim().to_ascii_lowercase();
        match code.split(['-', '_']).next().unwrap_or_default() {
            "zh" => Lang::Zh,
            "de" => Lang::De,
            "fr" => Lang::Fr,
            "es" => Lang::Es,
            _ => Lang::En,
        }
    }

    /// The `lang` attribute of the page.
    pub fn code(self) -> &'static str {
        ["en", "zh", "de", "fr", "es"][self as usize]
    }
}

/// One text in every language, in `Lang` order.
pub type Text = [&'static str; 5];

thread_local! {
    /// The widget's language; `None` in the full app.
    static LANG: Cell<Option<Lang>> = const { Cell::new(None) };
}

/// Sets the language (the widget does, once, before it renders).
pub fn set(lang: Lang) {
    LANG.with(|l| l.set(Some(lang)));
}

fn lang() -> Option<Lang> {
    // The page's module (no `widget` feature) never sets one, and keeps only the English texts.
    if !cfg!(feature = "widget") && !cfg!(test) {
        return None;
    }
    LANG.with(Cell::get)
}

/// The text in the current language.
pub fn t(text: &Text) -> &'static str {
    text[lang().unwrap_or(Lang::En) as usize]
}

/// A failed call in plain words: in the widget, the common refusals in its language; in the
/// full app (and for the rest), the error's own text.
pub fn error(error: &ClientError) -> String {
    let text = match error {
        ClientError::Network(_) => Some(&OFFLINE),
        ClientError::Timeout => Some(&NO_ANSWER),
        _ if error.is(ErrorCode::ForbiddenByPrivacy) || error.is(ErrorCode::Blocked) => {
            Some(&NOT_ACCEPTING)
        }
        _ if error.is(ErrorCode::UnknownUser) || error.is(ErrorCode::GroupNotFound) => {
            Some(&MISSING)
        }
        _ if error.is(ErrorCode::NotAMember) => Some(&NOT_MEMBER),
        _ if error.is(ErrorCode::RateLimited) => Some(&SLOW_DOWN),
        _ if error.is(ErrorCode::ContentTooLarge) => Some(&TOO_LONG),
        _ => None,
    };
    match (lang(), text) {
        (Some(_), Some(text)) => t(text).to_owned(),
        _ => error.to_string(),
    }
}

// The chat view (shared with the full app).
pub const LOAD_OLDER: Text = [
    "Load earlier messages",
    "加载更早的消息",
    "Frühere Nachrichten laden",
    "Charger les messages précédents",
    "Cargar mensajes anteriores",
];
pub const LOADING: Text = ["Loading…", "加载中…", "Lädt…", "Chargement…", "Cargando…"];
pub const HISTORY_START: Text = [
    "Beginning of the conversation",
    "对话开始",
    "Anfang der Unterhaltung",
    "Début de la conversation",
    "Inicio de la conversación",
];
pub const LOADING_MESSAGES: Text = [
    "Loading messages…",
    "正在加载消息…",
    "Nachrichten werden geladen…",
    "Chargement des messages…",
    "Cargando mensajes…",
];
pub const NO_MESSAGES: Text = [
    "No messages yet — say hello.",
    "还没有消息，打个招呼吧。",
    "Noch keine Nachrichten — sag Hallo.",
    "Pas encore de messages — dites bonjour.",
    "Aún no hay mensajes: saluda.",
];
pub const SENDING: Text = [
    "sending…",
    "发送中…",
    "wird gesendet…",
    "envoi…",
    "enviando…",
];
pub const SENT: Text = ["sent", "已发送", "gesendet", "envoyé", "enviado"];
pub const FAILED: Text = ["failed", "失败", "fehlgeschlagen", "échec", "error"];
pub const RETRY: Text = ["Retry", "重试", "Erneut senden", "Réessayer", "Reintentar"];
pub const PLACEHOLDER: Text = [
    "Write a message — Enter sends, Shift+Enter adds a line",
    "输入消息 — Enter 发送，Shift+Enter 换行",
    "Nachricht schreiben — Enter sendet, Umschalt+Enter für neue Zeile",
    "Écrivez un message — Entrée envoie, Maj+Entrée ajoute une ligne",
    "Escribe un mensaje: Intro envía, Mayús+Intro añade una línea",
];
pub const MESSAGE: Text = ["Message", "消息", "Nachricht", "Message", "Mensaje"];
pub const ATTACH: Text = ["Attach", "附件", "Anhängen", "Joindre", "Adjuntar"];
pub const ATTACH_TITLE: Text = [
    "Attach files",
    "添加文件",
    "Dateien anhängen",
    "Joindre des fichiers",
    "Adjuntar archivos",
];
pub const SEND: Text = ["Send", "发送", "Senden", "Envoyer", "Enviar"];
/// `{}` is the name.
pub const TYPING: Text = [
    "{} is typing…",
    "{} 正在输入…",
    "{} schreibt…",
    "{} écrit…",
    "{} está escribiendo…",
];
pub const SOMEONE: Text = ["Someone", "有人", "Jemand", "Quelqu’un", "Alguien"];

// The widget's frame.
pub const CHAT: Text = ["Chat", "聊天", "Chat", "Discussion", "Chat"];
pub const CLOSE: Text = ["Close", "关闭", "Schließen", "Fermer", "Cerrar"];
pub const ONLINE: Text = ["Online", "在线", "Online", "En ligne", "En línea"];
pub const REPLY_HERE: Text = [
    "We'll reply here.",
    "我们会在这里回复您。",
    "Wir antworten hier.",
    "Nous vous répondrons ici.",
    "Te responderemos aquí.",
];
pub const CONNECTING: Text = [
    "Connecting…",
    "连接中…",
    "Verbinden…",
    "Connexion…",
    "Conectando…",
];
pub const RECONNECTING: Text = [
    "Reconnecting…",
    "正在重新连接…",
    "Verbindung wird wiederhergestellt…",
    "Reconnexion…",
    "Reconectando…",
];
pub const WAITING: Text = [
    "Waiting for approval",
    "等待批准",
    "Wartet auf Freigabe",
    "En attente d’approbation",
    "Esperando aprobación",
];
pub const WAITING_HINT: Text = [
    "You can write here as soon as an admin lets you in.",
    "管理员批准后即可在这里发消息。",
    "Du kannst hier schreiben, sobald dich ein Admin hereinlässt.",
    "Vous pourrez écrire ici dès qu’un administrateur vous aura accepté.",
    "Podrás escribir aquí en cuanto un administrador te acepte.",
];
pub const DECLINED: Text = [
    "Your request to join was declined.",
    "您的加入申请被拒绝了。",
    "Deine Beitrittsanfrage wurde abgelehnt.",
    "Votre demande d’adhésion a été refusée.",
    "Tu solicitud para unirte fue rechazada.",
];
pub const INVITE_ONLY: Text = [
    "This group takes new members by invitation only.",
    "该群组仅限受邀加入。",
    "Diese Gruppe nimmt neue Mitglieder nur auf Einladung auf.",
    "Ce groupe n’accepte de nouveaux membres que sur invitation.",
    "Este grupo solo admite nuevos miembros por invitación.",
];
pub const MISSING: Text = [
    "This chat is not available.",
    "此聊天不可用。",
    "Dieser Chat ist nicht verfügbar.",
    "Cette discussion n’est pas disponible.",
    "Este chat no está disponible.",
];
pub const BAD_TARGET: Text = [
    "This chat is not set up correctly.",
    "此聊天的设置有误。",
    "Dieser Chat ist nicht richtig eingerichtet.",
    "Cette discussion est mal configurée.",
    "Este chat no está bien configurado.",
];
pub const SELF: Text = [
    "This is you: visitors see a chat with you here.",
    "这是您自己：访客会在这里看到与您的聊天。",
    "Das bist du: Besucher sehen hier einen Chat mit dir.",
    "C’est vous : les visiteurs voient ici une discussion avec vous.",
    "Eres tú: los visitantes ven aquí un chat contigo.",
];
pub const NOT_ACCEPTING: Text = [
    "This chat does not accept your messages right now.",
    "此聊天目前不接收您的消息。",
    "Dieser Chat nimmt gerade keine Nachrichten von dir an.",
    "Cette discussion n’accepte pas vos messages pour le moment.",
    "Este chat no acepta tus mensajes en este momento.",
];
pub const NOT_MEMBER: Text = [
    "You are not a member of this group.",
    "您不是该群组的成员。",
    "Du bist kein Mitglied dieser Gruppe.",
    "Vous n’êtes pas membre de ce groupe.",
    "No eres miembro de este grupo.",
];
pub const OFFLINE: Text = [
    "Cannot reach the server.",
    "无法连接服务器。",
    "Der Server ist nicht erreichbar.",
    "Impossible de joindre le serveur.",
    "No se puede conectar con el servidor.",
];
pub const NO_ANSWER: Text = [
    "The server did not answer in time.",
    "服务器响应超时。",
    "Der Server hat nicht rechtzeitig geantwortet.",
    "Le serveur n’a pas répondu à temps.",
    "El servidor no respondió a tiempo.",
];
pub const SLOW_DOWN: Text = [
    "Too many messages; wait a moment.",
    "消息太多，请稍候。",
    "Zu viele Nachrichten; warte einen Moment.",
    "Trop de messages ; patientez un instant.",
    "Demasiados mensajes; espera un momento.",
];
pub const TOO_LONG: Text = [
    "The message is too long.",
    "消息太长。",
    "Die Nachricht ist zu lang.",
    "Le message est trop long.",
    "El mensaje es demasiado largo.",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_parse_with_or_without_a_region_and_fall_back_to_english() {
        assert_eq!(Lang::parse("zh"), Lang::Zh);
        assert_eq!(Lang::parse("zh-CN"), Lang::Zh);
        assert_eq!(Lang::parse(" DE "), Lang::De);
        assert_eq!(Lang::parse("fr_CA"), Lang::Fr);
        assert_eq!(Lang::parse("es"), Lang::Es);
        assert_eq!(Lang::parse("klingon"), Lang::En);
        assert_eq!(Lang::parse(""), Lang::En);
        assert_eq!(Lang::Zh.code(), "zh");
    }

    #[test]
    fn the_full_app_keeps_the_servers_words_and_the_widget_uses_its_own() {
        let refused = ClientError::Server {
            status: 403,
            code: "forbidden_by_privacy".into(),
            message: "server words".into(),
        };
        assert_eq!(error(&refused), "server words");
        set(Lang::De);
        assert_eq!(error(&refused), NOT_ACCEPTING[Lang::De as usize]);
        assert_eq!(t(&SEND), "Senden");
        LANG.with(|l| l.set(None));
    }
}
