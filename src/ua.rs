//! Placeholder for user-agent classification (replaced by the real classifier).

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DeviceClass {
    Desktop,
    Mobile,
    Tablet,
    Bot,
    Other,
}

impl DeviceClass {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceClass::Desktop => "desktop",
            DeviceClass::Mobile => "mobile",
            DeviceClass::Tablet => "tablet",
            DeviceClass::Bot => "bot",
            DeviceClass::Other => "other",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AgentClass {
    pub browser: String,
    pub major: String,
    pub os: String,
    pub device: DeviceClass,
    pub bot: bool,
}

pub struct AgentHit {
    pub class: u32,
    pub digest: [u8; 16],
}

pub struct AgentCache {
    classes: Vec<AgentClass>,
}

impl Default for AgentCache {
    fn default() -> Self {
        Self::new()
    }
}

impl AgentCache {
    pub fn new() -> Self {
        AgentCache {
            classes: vec![AgentClass {
                browser: "Other".into(),
                major: String::new(),
                os: "Other".into(),
                device: DeviceClass::Other,
                bot: false,
            }],
        }
    }
    pub fn lookup(&mut self, ua: &[u8]) -> AgentHit {
        let mut digest = [0u8; 16];
        digest.copy_from_slice(&blake3::hash(ua).as_bytes()[..16]);
        AgentHit { class: 0, digest }
    }
    pub fn class(&self, id: u32) -> &AgentClass {
        &self.classes[id as usize]
    }
    pub fn classes(&self) -> &[AgentClass] {
        &self.classes
    }
}
