//! How simulated children say things (English; checked against the classifier by a test).

use crate::event::{ActivityCategory, ReliefStrategy};

pub const SYMPTOM: &[&str] = &[
    "my head hurts",
    "headache again",
    "my head is pounding 😣",
    "i have a really bad headache",
    "hedache",
    "my head hurts a lot, like 7/10",
    "got a headache",
    "my head feels sore",
    "ow my head hurts 🤕",
    "headache started",
];

pub const FOLLOW_UP: &[&str] = &["my head still hurts", "still got a headache", "headache is still there"];

pub const CHAT: &[&str] = &[
    "hi migru",
    "hello!",
    "i'm bored",
    "we had pizza for dinner",
    "my cat is sleeping on my bed",
    "guess what i got a new book",
    "what's your favourite colour?",
    "good morning",
    "goodnight migru",
    "today was ok",
];

pub fn activity(category: ActivityCategory) -> &'static [&'static str] {
    use ActivityCategory::*;
    match category {
        ScreenTime => &["played video games all afternoon", "watched youtube for ages", "was on my tablet for 3 hours"],
        Exercise => &["had football practice", "we did lots of running in PE", "went to swimming lessons"],
        SkippedMeal => &["i skipped breakfast", "didn't eat lunch", "forgot to eat my lunch"],
        PoorSleep => &["i didn't sleep well", "woke up loads last night", "stayed up really late"],
        SchoolStress => &["had a big test today", "spelling test at school", "i have to do a presentation at school"],
        SocialConflict => &["had a fight with my friend", "argued with my brother", "some kids were mean to me"],
        Caffeine => &["had a cola", "drank an energy drink", "had two cans of coke"],
        BrightLight => &["the sun was so bright", "bright lights in the hall", "flashing lights at the show"],
        LoudNoise => &["it was really loud in the lunch hall", "the classroom was so noisy", "went to a loud concert"],
        Dehydration => &["forgot my water bottle", "didn't drink anything all day", "i was really thirsty"],
        Travel => &["long car ride today", "bus trip with my class", "we were on a train for hours"],
        Outdoor => &["played outside", "went to the park", "we were at the beach"],
        Homework => &["so much homework", "did homework for two hours", "my maths worksheet took forever"],
        Meditation => &["did my meditation", "did yoga before bed", "did a mindfulness exercise"],
        Other => &["went to my cousin's house"],
    }
}

pub fn relief(strategy: ReliefStrategy) -> &'static [&'static str] {
    use ReliefStrategy::*;
    match strategy {
        Rest => &["i lay down for a bit and it helped", "resting helped"],
        DarkRoom => &["lying in my dark room helped", "turned off the lights and it helped"],
        Water => &["drank some water and my head feels better", "water helped"],
        Breathing => &["the breathing exercise helped", "slow breathing made it better"],
        Medication => &["the medicine helped", "took my medicine and the headache went away"],
        Snack => &["ate a snack and feel better now", "had a banana and feel better"],
        Nap => &["feeling better after a nap", "the nap worked"],
        ColdCompress => &["an ice pack on my head helped", "cold cloth on my forehead made it better"],
        Walk => &["went for a walk and my head feels better", "a walk outside helped"],
        Music => &["listening to music made it better", "calm music helped"],
        Other => &["i feel better now"],
    }
}
